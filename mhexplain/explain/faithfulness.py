"""Faithfulness of an attribution, in the style of ERASER and ferret.

Comprehensiveness: how much the target probability drops when the top-k% units are removed.
Sufficiency: how much it drops when only the top-k% units are kept. Both are averaged over
k in THRESHOLDS (AOPC). Higher comprehensiveness and lower sufficiency are better.

Only the words the model sees are ranked (``explain`` passes them as ``units``): the top 5% of a
post's words are then 5% of the words that can change the prediction, and a word the model drops
is in every text scored, as in the post itself.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from mhexplain.explain.units import Units

THRESHOLDS = (0.05, 0.10, 0.20, 0.50)


def top_k_count(n_units: int, fraction: float) -> int:
    return min(n_units, max(1, math.ceil(fraction * n_units)))


def faithfulness(units: Units, weights: np.ndarray, target: int, predict: Callable[[list[str]], np.ndarray],
                 p_full: float | None = None, thresholds: Sequence[float] = THRESHOLDS) -> dict:
    """AOPC comprehensiveness and sufficiency of ``weights`` (one per unit) for class ``target``."""
    n = len(units)
    order = np.argsort(-np.asarray(weights), kind="stable")
    texts, ks = [], []
    for frac in thresholds:
        k = top_k_count(n, frac)
        top = np.zeros(n, dtype=bool)
        top[order[:k]] = True
        texts += [units.keep(~top), units.keep(top)]
        ks.append(k)
    if p_full is None:
        texts.append(units.text)
    probs = np.asarray(predict(texts))[:, target]
    base = float(probs[-1]) if p_full is None else float(p_full)
    comp = [base - float(probs[2 * i]) for i in range(len(thresholds))]
    suff = [base - float(probs[2 * i + 1]) for i in range(len(thresholds))]
    return {
        "comprehensiveness": float(np.mean(comp)),
        "sufficiency": float(np.mean(suff)),
        "per_threshold": [{"fraction": f, "k": k, "comprehensiveness": c, "sufficiency": s}
                          for f, k, c, s in zip(thresholds, ks, comp, suff)],
        "n_evals": len(texts),
    }


def rank_agreement(a: np.ndarray, b: np.ndarray, k: int = 5, among=None) -> dict:
    """Spearman correlation of two attributions over the same units, and the overlap of their top-k
    units; ``k`` shrinks to the number of units for short posts and is returned with the overlap.
    ``among`` (a boolean mask) ranks only those units, e.g. the words both models see."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("attributions cover different units")
    if among is not None:
        a, b = a[np.asarray(among, dtype=bool)], b[np.asarray(among, dtype=bool)]
    k = min(k, len(a))
    top_a = set(np.argsort(-a, kind="stable")[:k])
    top_b = set(np.argsort(-b, kind="stable")[:k])
    from scipy.stats import spearmanr  # scipy.stats takes half a second to import; only this needs it

    rho = spearmanr(a, b).statistic if len(a) > 1 and a.std() > 0 and b.std() > 0 else float("nan")
    return {"spearman": float(rho), "k": k, "top_k_overlap": len(top_a & top_b) / k if k else float("nan")}
