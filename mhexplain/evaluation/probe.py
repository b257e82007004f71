"""The shortcut probe: how much of a model's score rests on the words that name the condition.

For every model in a models folder, on its test posts: macro-F1, per-class recall and the share
of predictions per class (1) on the posts as written, (2) with the condition words deleted
(the words of the model's label names, ``shortcuts.default_words``, and any ``--words FILE``), and (3) with the same number of random other
words deleted from each post (a seeded control: deleting words at all may cost something).
The command line: ``mhexplain.cli.probe``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from mhexplain.artifacts.folder import read_predictions
from mhexplain.artifacts.registry import discover, load_classifier, select_models
from mhexplain.core.errors import ArtifactError, MhxError
from mhexplain.evaluation.metrics import macro_f1
from mhexplain.scoring.table import predict
from mhexplain.trust.shortcuts import WordMask, delete_random_words, top_class_words

VARIANTS = ("as written", "condition words deleted", "random words deleted")


def probe_texts(texts: list[str], mask: WordMask, seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    counts = [mask.count(t) for t in texts]
    return {"as written": list(texts), "condition words deleted": [mask.delete(t) for t in texts],
            "random words deleted": [delete_random_words(t, n, mask, rng) for t, n in zip(texts, counts)]}


def _scores(y: np.ndarray, pred: np.ndarray, labels) -> dict:
    recall = {lab: float((pred[y == k] == k).mean()) if (y == k).any() else None for k, lab in enumerate(labels)}
    share = np.bincount(pred, minlength=len(labels)) / max(len(pred), 1)
    return {"macro_f1": macro_f1(y, pred, len(labels)), "recall": recall,
            "prediction_share": {lab: float(share[k]) for k, lab in enumerate(labels)}}


def probe(clf, texts: list[str], y, mask: WordMask | None = None, seed: int = 0,
          variants: dict[str, list[str]] | None = None, progress=None) -> dict:
    """The probe for one model; ``variants`` (from ``probe_texts``) can be shared between models.
    ``progress`` (a ``progress.Progress``) is told of each variant and of the posts predicted."""
    mask = mask or WordMask.for_labels(clf.labels)
    y = np.asarray(y, dtype=int)
    variants = variants or probe_texts(texts, mask, seed)
    counts = np.array([mask.count(t) for t in texts])
    t0 = time.perf_counter()
    out = {}
    for v in VARIANTS:
        if progress is not None:
            progress.stage(f"{clf.name}: {v}")
        pred = predict(clf, variants[v], progress.update if progress is not None else None).argmax(1)
        out[v] = _scores(y, pred, clf.labels)
    return {"model": clf.name, "n_posts": int(len(texts)), "posts_with_condition_word": int((counts > 0).sum()),
            "condition_words_per_post": float(counts.mean()) if len(counts) else 0.0, "words": list(mask.words),
            "seed": seed, "seconds": time.perf_counter() - t0, "variants": out,
            "macro_f1_drop": out["as written"]["macro_f1"] - out["condition words deleted"]["macro_f1"],
            "control_drop": out["as written"]["macro_f1"] - out["random words deleted"]["macro_f1"]}


def probe_folder(models_dir: Path, words: tuple[str, ...] = (), seed: int = 0, names=None, models: dict | None = None,
                 failed: dict[str, str] | None = None, progress=None, only_words: bool = False) -> list[dict]:
    """The probe for every trained (or every named) model of a folder, on the test posts of its artifact,
    with the words of its own label names and ``words`` (a ``--words`` file's) deleted; with
    ``only_words``, ``words`` alone (words a user picked on the Compare page).

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
            results.append(_probe_model(info, words, seed, (models or {}).get(info.name), progress, only_words))
        except MhxError as err:
            if failed is not None:
                failed[info.name] = str(err)
    return results


def _probe_model(info, words: tuple[str, ...], seed: int, clf, progress, only_words: bool = False) -> dict:
    if not info.ok:
        raise ArtifactError(info.error)
    if progress is not None:
        progress.stage(f"loading {info.name}")
    preds = read_predictions(info.path)
    clf = clf or load_classifier(info.path)
    texts = preds["text"].tolist()
    mask = WordMask(tuple(words)) if only_words else WordMask.for_labels(clf.labels, words)
    return probe(clf, texts, preds["true_label"].to_numpy(), mask, seed, probe_texts(texts, mask, seed), progress)


def class_words_table(results, k: int = 10) -> pd.DataFrame:
    """Per model and class, the words most typical of the test posts the model assigns to the class
    (``shortcuts.top_class_words``), for a reader to review before probing them."""
    rows = []
    for r in results:
        preds = r.predictions
        found = top_class_words(preds["text"], preds["pred_label"], r.labels, k)
        rows += [{"model": r.name, "class": lab, "words": ", ".join(w for w, _ in words)}
                 for lab, words in found.items()]
    return pd.DataFrame(rows, columns=["model", "class", "words"])


def table(results: list[dict]) -> list[dict]:
    """One row per model and variant, for printing and for the app."""
    rows = []
    for r in results:
        for v in VARIANTS:
            s = r["variants"][v]
            rows.append({"model": r["model"], "posts": v, "macro F1": s["macro_f1"],
                         **{f"recall {lab}": rec for lab, rec in s["recall"].items()}})
    return rows
