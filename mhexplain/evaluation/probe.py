"""The shortcut probe: how much of a model's score rests on the words that name the condition.

For every model in a models folder, on its test posts: macro-F1, per-class recall and the share
of predictions per class (1) on the posts as written, (2) with the condition words deleted
(``shortcuts.CONDITION_WORDS`` or ``--words FILE``), and (3) with the same number of random other
words deleted from each post (a seeded control: deleting words at all may cost something).

    python -m mhexplain.probe --models-dir DIR [--words FILE] [--json OUT] [--seed S] [--models nb,lr]

A model that cannot be loaded is named on standard error and the others are still probed; the
command then exits with status 1 (2 when nothing could be probed or the request is unusable).
``--json`` writes ``{"models": [one result per model probed], "failed": {model: why}}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from mhexplain.artifacts.folder import read_predictions
from mhexplain.artifacts.registry import discover, load_classifier, select_models
from mhexplain.core.errors import ArtifactError, MhxError
from mhexplain.core.labels import LABELS, NUM_LABELS
from mhexplain.core.outputs import check_output_file, write_atomic
from mhexplain.core.progress import Progress
from mhexplain.core.textsafe import printable
from mhexplain.evaluation.metrics import macro_f1
from mhexplain.scoring.table import predict
from mhexplain.settings import default_models_dir
from mhexplain.trust.shortcuts import WordMask, delete_random_words

VARIANTS = ("as written", "condition words deleted", "random words deleted")


def probe_texts(texts: list[str], mask: WordMask, seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    counts = [mask.count(t) for t in texts]
    return {"as written": list(texts), "condition words deleted": [mask.delete(t) for t in texts],
            "random words deleted": [delete_random_words(t, n, mask, rng) for t, n in zip(texts, counts)]}


def _scores(y: np.ndarray, pred: np.ndarray) -> dict:
    recall = {lab: float((pred[y == k] == k).mean()) if (y == k).any() else None for k, lab in enumerate(LABELS)}
    share = np.bincount(pred, minlength=NUM_LABELS) / max(len(pred), 1)
    return {"macro_f1": macro_f1(y, pred), "recall": recall,
            "prediction_share": {lab: float(share[k]) for k, lab in enumerate(LABELS)}}


def probe(clf, texts: list[str], y, mask: WordMask | None = None, seed: int = 0,
          variants: dict[str, list[str]] | None = None, progress=None) -> dict:
    """The probe for one model; ``variants`` (from ``probe_texts``) can be shared between models.
    ``progress`` (a ``progress.Progress``) is told of each variant and of the posts predicted."""
    mask = mask or WordMask()
    y = np.asarray(y, dtype=int)
    variants = variants or probe_texts(texts, mask, seed)
    counts = np.array([mask.count(t) for t in texts])
    t0 = time.perf_counter()
    out = {}
    for v in VARIANTS:
        if progress is not None:
            progress.stage(f"{clf.name}: {v}")
        out[v] = _scores(y, predict(clf, variants[v], progress.update if progress is not None else None).argmax(1))
    return {"model": clf.name, "n_posts": int(len(texts)), "posts_with_condition_word": int((counts > 0).sum()),
            "condition_words_per_post": float(counts.mean()) if len(counts) else 0.0, "words": list(mask.words),
            "seed": seed, "seconds": time.perf_counter() - t0, "variants": out,
            "macro_f1_drop": out["as written"]["macro_f1"] - out["condition words deleted"]["macro_f1"],
            "control_drop": out["as written"]["macro_f1"] - out["random words deleted"]["macro_f1"]}


def probe_folder(models_dir: Path, mask: WordMask, seed: int = 0, names=None, models: dict | None = None,
                 failed: dict[str, str] | None = None, progress=None) -> list[dict]:
    """The probe for every trained (or every named) model of a folder, on the test posts of its artifact.

    ``names`` are read as every command reads ``--models`` (``registry.select_models``: a name not
    trained there is refused). ``models``: classifiers already loaded, by name; when given, only these
    are probed (whoever loaded them has already heard why the others did not load). A model that
    cannot be loaded or whose test posts cannot be read is skipped, and why goes into ``failed`` (by
    name): the other models are still probed.
    """
    infos = [m for m in discover(models_dir) if m.name in models] if models is not None else \
        select_models(models_dir, names)
    results = []
    for info in infos:
        try:
            results.append(_probe_model(info, mask, seed, (models or {}).get(info.name), progress))
        except MhxError as err:
            if failed is not None:
                failed[info.name] = str(err)
    return results


def _probe_model(info, mask: WordMask, seed: int, clf, progress) -> dict:
    if not info.ok:
        raise ArtifactError(info.error)
    if progress is not None:
        progress.stage(f"loading {info.name}")
    preds = read_predictions(info.path)
    clf = clf or load_classifier(info.path)
    texts = preds["text"].tolist()
    return probe(clf, texts, preds["true_label"].to_numpy(), mask, seed, probe_texts(texts, mask, seed), progress)


def table(results: list[dict]) -> list[dict]:
    """One row per model and variant, for printing and for the app."""
    rows = []
    for r in results:
        for v in VARIANTS:
            s = r["variants"][v]
            rows.append({"model": r["model"], "posts": v, "macro F1": s["macro_f1"],
                         **{f"recall {lab}": s["recall"][lab] for lab in LABELS}})
    return rows


def main(argv=None) -> int:

    p = argparse.ArgumentParser(prog="python -m mhexplain.probe", description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default=str(default_models_dir()))
    p.add_argument("--words", help="a word list (one per line, * for prefixes); default: the built-in list")
    p.add_argument("--models", help="comma-separated subset of the folder's models")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-deletion control")
    p.add_argument("--json", help="write the full results here")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    failed: dict[str, str] = {}
    try:
        mask = WordMask.from_spec(a.words)
        if a.json:
            check_output_file(Path(a.json), "--json")
        with Progress("probing", "post") as bar:
            results = probe_folder(Path(a.models_dir), mask, a.seed, a.models.split(",") if a.models else None,
                                   failed=failed, progress=bar)
        if a.json and results:
            write_atomic(Path(a.json), json.dumps({"models": results, "failed": failed}, indent=2))
    except MhxError as err:
        print(f"error: {printable(err)}", file=sys.stderr)
        return 2
    for name, why in failed.items():
        print(f"error: {name} was not probed: {printable(why)}", file=sys.stderr)
    if not results:
        if not failed:
            print(f"error: no trained model in {printable(a.models_dir)}", file=sys.stderr)
        return 2
    first = results[0]
    print(f"{first['posts_with_condition_word']} of {first['n_posts']} test posts name a condition "
          f"({first['condition_words_per_post']:.2f} such words per post)")
    print(f"{'model':6} {'as written':>10} {'cond. del.':>10} {'random del.':>11}  drop  control")
    for r in results:
        f = {v: r["variants"][v]["macro_f1"] for v in VARIANTS}
        print(f"{r['model']:6} {f[VARIANTS[0]]:10.3f} {f[VARIANTS[1]]:10.3f} {f[VARIANTS[2]]:11.3f}  "
              f"{r['macro_f1_drop']:+.3f} {r['control_drop']:+.3f}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
