"""The shortcut probe: how much of a model's score rests on the words that name the condition.

For every model in a models folder, on its test posts: macro-F1, per-class recall and the share
of predictions per class (1) on the posts as written, (2) with the condition words deleted
(``shortcuts.CONDITION_WORDS`` or ``--words FILE``), and (3) with the same number of random other
words deleted from each post (a seeded control: deleting words at all may cost something).

    python -m mhexplain.probe --models-dir DIR [--words FILE] [--json OUT] [--seed S] [--models nb,lr]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .errors import MhxError
from .labels import LABELS, NUM_LABELS
from .shortcuts import WordMask, delete_random_words

VARIANTS = ("as written", "condition words deleted", "random words deleted")


def probe_texts(texts: list[str], mask: WordMask, seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    counts = [mask.count(t) for t in texts]
    return {"as written": list(texts), "condition words deleted": [mask.delete(t) for t in texts],
            "random words deleted": [delete_random_words(t, n, mask, rng) for t, n in zip(texts, counts)]}


def _scores(y: np.ndarray, pred: np.ndarray) -> dict:
    from .metrics import macro_f1

    recall = {lab: float((pred[y == k] == k).mean()) if (y == k).any() else None for k, lab in enumerate(LABELS)}
    share = np.bincount(pred, minlength=NUM_LABELS) / max(len(pred), 1)
    return {"macro_f1": macro_f1(y, pred), "recall": recall,
            "prediction_share": {lab: float(share[k]) for k, lab in enumerate(LABELS)}}


def probe(clf, texts: list[str], y, mask: WordMask | None = None, seed: int = 0,
          variants: dict[str, list[str]] | None = None) -> dict:
    """The probe for one model; ``variants`` (from ``probe_texts``) can be shared between models."""
    mask = mask or WordMask()
    y = np.asarray(y, dtype=int)
    variants = variants or probe_texts(texts, mask, seed)
    counts = np.array([mask.count(t) for t in texts])
    t0 = time.perf_counter()
    out = {v: _scores(y, np.asarray(clf.predict_proba(variants[v])).argmax(1)) for v in VARIANTS}
    return {"model": clf.name, "n_posts": int(len(texts)), "posts_with_condition_word": int((counts > 0).sum()),
            "condition_words_per_post": float(counts.mean()) if len(counts) else 0.0, "words": list(mask.words),
            "seed": seed, "seconds": time.perf_counter() - t0, "variants": out,
            "macro_f1_drop": out["as written"]["macro_f1"] - out["condition words deleted"]["macro_f1"],
            "control_drop": out["as written"]["macro_f1"] - out["random words deleted"]["macro_f1"]}


def probe_folder(models_dir: Path, mask: WordMask, seed: int = 0, names=None, models: dict | None = None) -> list[dict]:
    """The probe for every (or every named) model of a folder, on the test posts of its artifact."""
    from .artifacts import read_predictions
    from .registry import discover, load_classifier

    results = []
    for info in discover(models_dir):
        if not info.ok or (names and info.name not in names):
            continue
        preds = read_predictions(info.path)
        clf = (models or {}).get(info.name) or load_classifier(info.path)
        texts = preds["text"].tolist()
        results.append(probe(clf, texts, preds["true_label"].to_numpy(), mask, seed,
                             probe_texts(texts, mask, seed)))
    return results


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
    from .settings import default_models_dir
    from .textsafe import printable

    p = argparse.ArgumentParser(prog="python -m mhexplain.probe", description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default=str(default_models_dir()))
    p.add_argument("--words", help="a word list (one per line, * for prefixes); default: the built-in list")
    p.add_argument("--models", help="comma-separated subset of the folder's models")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-deletion control")
    p.add_argument("--json", help="write the full results here")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        mask = WordMask.from_spec(a.words)
        results = probe_folder(Path(a.models_dir), mask, a.seed, a.models.split(",") if a.models else None)
    except MhxError as err:
        print(f"error: {printable(err)}", file=sys.stderr)
        return 2
    if not results:
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
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
