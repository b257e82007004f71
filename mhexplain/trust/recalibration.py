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


def _selective(proba: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> dict:
    """ECE and what abstaining below each post's own threshold answers, and how well."""
    conf, right = proba.max(1), proba.argmax(1) == y
    answered = conf >= thresholds
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
    factor = fit_temperature(proba, y)
    chosen = guaranteed_threshold(scale(proba, factor), y, target, delta)
    return {"temperature": temperature * factor, "temperature_factor": factor, "threshold": chosen["threshold"],
            "coverage": chosen["coverage"], "accuracy_lower_bound": chosen["accuracy_lower_bound"],
            "target_accuracy": target, "delta": delta,
            "cross_validation": cross_validate(proba, y, threshold, target, delta, seed=seed)}
