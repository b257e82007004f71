"""Evaluation metrics with honest uncertainty (seeded bootstrap intervals)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def _confusion(y_true, y_pred, n_labels: int) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    return np.bincount(y_true * n_labels + y_pred, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def macro_f1(y_true, y_pred, n_labels: int, classes: Sequence[int] | None = None) -> float:
    """Macro-F1 over ``classes`` (default: all ``n_labels``; a class with no support and no
    predictions scores 0, as scikit-learn's ``zero_division=0``); a bincount keeps the bootstrap fast."""
    cm = _confusion(y_true, y_pred, n_labels)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1[list(classes)].mean() if classes is not None else f1.mean())


def resample_weights(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap resamples of ``n`` items as counts per item, (n_resamples, n): shared by every
    candidate a choice compares, so that their comparisons are paired."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float32)


def resampled_macro_f1(weights: np.ndarray, y_true, y_pred, n_labels: int) -> np.ndarray:
    """``macro_f1`` in each resample of ``weights`` (``resample_weights``), at once."""
    truth = np.eye(n_labels, dtype=np.float32)[np.asarray(y_true, dtype=int)]
    pred = np.eye(n_labels, dtype=np.float32)[np.asarray(y_pred, dtype=int)]
    tp, denom = weights @ (truth * pred), weights @ (truth + pred)
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0).mean(axis=1)


def accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0


def bootstrap_ci(y_true, y_pred, metric: Callable, n_resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED, level: float = 0.95) -> list[float]:
    """Percentile interval of ``metric`` over test-set resamples drawn with replacement."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    stats = np.empty(n_resamples)
    for i in range(n_resamples):
        idx = rng.integers(0, n, n)
        stats[i] = metric(y_true[idx], y_pred[idx])
    alpha = (1 - level) / 2
    return [float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))]


def classification_metrics(y_true, proba: np.ndarray, labels: Sequence[str],
                           n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                           average_over: Sequence[int] | None = None) -> dict:
    """Accuracy, macro and per-class scores, kappa and confusion matrix of ``proba``'s argmax.

    ``average_over``: the class ids that macro averages (and their intervals) are taken over;
    by default every one of ``labels``. A file holding three of a model's five classes is averaged over
    those three, where a class it lacks would only add a 0 it cannot earn.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(proba).argmax(axis=1)
    ids = list(range(len(labels)))
    averaged = sorted(average_over) if average_over is not None else ids
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    per_class = {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                 for i, lab in enumerate(labels)}
    avgs = {}
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(y_true, y_pred, labels=averaged, average=avg,
                                                        zero_division=0)
        avgs[avg] = {"precision": float(ap), "recall": float(ar), "f1": float(af)}

    def f1(a, b):
        # over the classes a resample holds (in truth or prediction): one a small test set's
        # resample happens to miss would score 0 and pull the interval below the estimate
        present = set(np.unique(a).tolist()) | set(np.unique(b).tolist())
        return macro_f1(a, b, len(labels), [c for c in averaged if c in present] or averaged)

    return {
        "n_test": int(len(y_true)),
        "accuracy": accuracy(y_true, y_pred),
        "accuracy_ci": bootstrap_ci(y_true, y_pred, accuracy, n_resamples, seed),
        "macro_f1": f1(y_true, y_pred),
        "macro_f1_ci": bootstrap_ci(y_true, y_pred, f1, n_resamples, seed),
        "macro_precision": avgs["macro"]["precision"],
        "macro_recall": avgs["macro"]["recall"],
        "cohen_kappa": float(cohen_kappa_score(y_true, y_pred, labels=ids)),
        "per_class": per_class,
        "macro_avg": avgs["macro"],
        "weighted_avg": avgs["weighted"],
        "labels": list(labels),
        "averaged_over": [labels[i] for i in averaged],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "ci_method": f"percentile bootstrap, {n_resamples} resamples of the test set, seed {seed}, 95%",
    }
