"""Recalibration to a new source of posts from a small labelled sample of it.

A model's calibration was fitted on held-out posts of its training data; on another forum its
confidence can be far off (the Kaggle LR says 0.62 where it is right half the time). Refitting
the temperature and the abstention threshold on a few hundred labelled posts of the new source
restores it without retraining: temperature scaling never changes a prediction, so only the
confidence and the abstentions move.

The sample's probabilities are the ones the model shows now (already scaled by its temperature
T0); a second temperature T1 fitted on them composes with it, since scaling by T0 then T1 is
scaling by T0·T1: the variant's temperature. Whether it helps is measured by k-fold
cross-validation on the sample: each fold's posts are scored with the temperature and threshold
fitted on the other folds, so no post is judged by a calibration fitted on it.
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold

from mhexplain.core.classifier import abstains
from mhexplain.trust.calibration import (
    DEFAULT_DELTA,
    DEFAULT_TARGET_ACCURACY,
    ece,
    ece_floor,
    fit_temperature,
    guaranteed_threshold,
    scale,
)

FOLDS = 5
# Fewer posts than this leave each fold too few to fit a temperature, let alone a threshold.
MIN_SAMPLE = 100
# A sample of one class teaches the temperature that every post is of that class (a model right on
# an easy one-forum sample is sharpened until it is overconfident everywhere else): at least two
# classes, each with this many posts.
MIN_PER_CLASS = 10
# The temperature factor is searched within e^-5..e^5; one at the edge means the fit did not settle.
_FACTOR_BOUNDS = (float(np.exp(-5.0)), float(np.exp(5.0)))


def _selective(proba: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> dict:
    """ECE and what abstaining below each post's own threshold answers, and how well."""
    conf, right = proba.max(1), proba.argmax(1) == y
    answered = np.array([not abstains(c, t) for c, t in zip(conf, thresholds)], dtype=bool)
    return {"ece": ece(proba, y), "ece_floor": ece_floor(proba)["mean"], "mean_confidence": float(conf.mean()),
            "accuracy": float(right.mean()), "coverage": float(answered.mean()),
            "answered_accuracy": float(right[answered].mean()) if answered.any() else None}


def cross_validate(proba: np.ndarray, y: np.ndarray, threshold: float, target: float = DEFAULT_TARGET_ACCURACY,
                   delta: float = DEFAULT_DELTA, folds: int = FOLDS, seed: int = 0) -> dict:
    """The sample as the model sees it now (``proba`` and its ``threshold``) beside the same posts
    scored out of fold with a temperature and a guaranteed threshold fitted on the other folds."""
    proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=int)
    after, thresholds = np.empty_like(proba), np.empty(len(y))
    for fit, held in KFold(folds, shuffle=True, random_state=seed).split(proba):
        t = fit_temperature(proba[fit], y[fit])
        thresholds[held] = guaranteed_threshold(scale(proba[fit], t), y[fit], target, delta)["threshold"]
        after[held] = scale(proba[held], t)
    return {"folds": folds, "seed": seed, "posts": int(len(y)),
            "before": _selective(proba, y, np.full(len(y), threshold)), "after": _selective(after, y, thresholds)}


def recalibrate(proba: np.ndarray, y: np.ndarray, temperature: float, threshold: float,
                target: float = DEFAULT_TARGET_ACCURACY, delta: float = DEFAULT_DELTA, seed: int = 0) -> dict:
    """The variant's calibration, fitted on the whole sample, and the cross-validated evidence for
    it. ``proba``: the sample's probabilities as the model shows them (its ``temperature`` applied);
    ``threshold``: where it abstains now."""
    proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=int)
    if len(y) < MIN_SAMPLE:
        raise ValueError(f"recalibration needs at least {MIN_SAMPLE} labelled posts of the new source, not {len(y)}")
    counts = np.bincount(y)
    if (counts >= MIN_PER_CLASS).sum() < 2:
        raise ValueError(f"recalibration needs posts of at least two classes, {MIN_PER_CLASS} or more of each "
                         f"(this sample has {(counts > 0).sum()} class(es) with posts, "
                         f"{(counts >= MIN_PER_CLASS).sum()} with {MIN_PER_CLASS} or more): fitted on one class, "
                         "the temperature learns that every post is of it")
    factor = fit_temperature(proba, y)
    chosen = guaranteed_threshold(scale(proba, factor), y, target, delta)
    cv = cross_validate(proba, y, threshold, target, delta, seed=seed)
    accuracy, chance = cv["before"]["accuracy"], 1.0 / proba.shape[1]
    return {"temperature": temperature * factor, "temperature_factor": factor, "threshold": chosen["threshold"],
            "coverage": chosen["coverage"], "accuracy_lower_bound": chosen["accuracy_lower_bound"],
            "target_accuracy": target, "delta": delta, "cross_validation": cv,
            "helps": cv["after"]["ece"] < cv["before"]["ece"],
            "warnings": [w for w, bad in (
                ("the temperature fit reached the edge of its range: the sample's labels may not be the models' "
                 "classes (check the label map)", not _FACTOR_BOUNDS[0] * 1.01 < factor < _FACTOR_BOUNDS[1] / 1.01),
                (f"the models are right on {accuracy:.0%} of the sample, no better than chance ({chance:.0%}): check "
                 "the label map", accuracy <= chance)) if bad]}
