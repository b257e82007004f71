"""Calibrated confidence: temperature scaling, its measures, and abstention.

Temperature scaling (Guo et al. 2017) divides a model's log-probabilities by one number T fitted
to minimise the negative log-likelihood on data the test set never touches, then renormalises.
It never changes which class is predicted (the order of the classes' scores is kept), only how
sure the model says it is. ``Calibrated`` wraps any Classifier with a fitted T and an abstention
threshold; the raw probabilities stay available as ``raw_proba``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from mhexplain.core.classifier import ANSWER_NOTHING, Classifier, abstains

CALIBRATION_FILE = "calibration.json"
ECE_BINS = 15
# Accuracy the abstention threshold aims for on the posts a model answers (chosen on validation data).
DEFAULT_TARGET_ACCURACY = 0.85
# The chance that the guaranteed threshold misses its target accuracy on new in-domain posts.
DEFAULT_DELTA = 0.05
_TINY = 1e-300


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(p, dtype=float), _TINY, None))


def scale(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with their log-probabilities divided by ``temperature``, renormalised."""
    z = _log(proba) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-_log(np.asarray(proba)[np.arange(len(y)), y]).mean())


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The T that minimises the negative log-likelihood of ``y`` (searched over log T)."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(y, dtype=int)
    res = minimize_scalar(lambda log_t: nll(scale(proba, float(np.exp(log_t))), y), bounds=(-5.0, 5.0),
                          method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def reliability(proba: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width confidence bin: posts, mean top-label confidence, accuracy."""
    conf, right = np.asarray(proba).max(1), np.asarray(proba).argmax(1) == np.asarray(y)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        m = idx == b
        rows.append({"bin": b, "low": b / bins, "high": (b + 1) / bins, "count": int(m.sum()),
                     "confidence": float(conf[m].mean()) if m.any() else None,
                     "accuracy": float(right[m].mean()) if m.any() else None})
    return rows


def ece(proba: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error over equal-width bins."""
    conf, right = np.asarray(proba).max(1), (np.asarray(proba).argmax(1) == np.asarray(y)).astype(float)
    return _binned_gap(conf, right, bins)


def _binned_gap(conf: np.ndarray, right: np.ndarray, bins: int) -> float:
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    gap = np.abs(np.bincount(idx, conf, bins) - np.bincount(idx, right, bins))
    return float(gap.sum() / max(len(conf), 1))


def ece_floor(proba: np.ndarray, n_resamples: int = 200, seed: int = 0, bins: int = ECE_BINS) -> dict:
    """The ECE a perfectly calibrated model with these confidences would still score on this many
    posts: each post right with the chance its confidence states, drawn ``n_resamples`` times. The
    binned ECE is biased upward on a finite test set, so a measured ECE near this floor is as good
    as the sample can show; its mean and 95th percentile."""
    conf = np.asarray(proba).max(1)
    rng = np.random.default_rng(seed)
    draws = [_binned_gap(conf, (rng.random(len(conf)) < conf).astype(float), bins) for _ in range(n_resamples)]
    return {"mean": float(np.mean(draws)), "p95": float(np.percentile(draws, 95)), "draws": n_resamples}


def ece_interval(proba: np.ndarray, y: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the ECE over test-set resamples."""
    rng = np.random.default_rng(seed)
    n = len(y)
    vals = [ece(proba[i], y[i]) for i in (rng.integers(0, n, n) for _ in range(n_resamples))]
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))]


def brier(proba: np.ndarray, y: np.ndarray) -> float:
    onehot = np.eye(proba.shape[1])[np.asarray(y, dtype=int)]
    return float(((np.asarray(proba) - onehot) ** 2).sum(1).mean())


def _error_upper_bound(errors: int, n: int, delta: float) -> float:
    """Clopper-Pearson: the error rate that ``errors`` in ``n`` leaves possible with probability at
    least ``delta`` (one-sided)."""
    from scipy.stats import beta  # scipy's statistics: imported where needed, as the optimiser is

    return 1.0 if errors >= n else float(beta.ppf(1 - delta, errors + 1, n - errors))


def guaranteed_threshold(proba: np.ndarray, y: np.ndarray, target: float = DEFAULT_TARGET_ACCURACY,
                         delta: float = DEFAULT_DELTA) -> dict:
    """Selection with guaranteed risk (Geifman & El-Yaniv 2017, "SGR"): the lowest confidence
    threshold whose answered held-out posts keep the upper confidence bound of their error rate
    at most ``1 - target``; a binary search over the answered set's size, each of its
    ceil(log2 n) tests at ``delta`` / ceil(log2 n), so that, with probability at least
    1 - ``delta``, accuracy on new posts like these that are answered meets ``target``.

    Returns the threshold (``ANSWER_NOTHING`` when no set passes), the held-out coverage and
    accuracy at it, and the lower bound of that accuracy."""
    conf, right = np.asarray(proba).max(1), np.asarray(proba).argmax(1) == np.asarray(y)
    order = np.argsort(-conf, kind="stable")
    errors = np.cumsum(~right[order])
    n = len(order)
    tests = max(1, int(np.ceil(np.log2(max(n, 2)))))
    step_delta = delta / tests
    best, low, high = 0, 1, n  # answered set sizes: best passed so far; search within [low, high]
    for _ in range(tests):
        if low > high:
            break
        mid = (low + high + 1) // 2
        if 1 - _error_upper_bound(int(errors[mid - 1]), mid, step_delta) >= target:
            best, low = mid, mid + 1
        else:
            high = mid - 1
    if best == 0:
        return {"threshold": ANSWER_NOTHING, "coverage": 0.0, "accuracy": None, "accuracy_lower_bound": None,
                "delta": delta}
    # a confidence of exactly 1 that passed stays answerable: 1 itself means "answer nothing"
    threshold = min(float(conf[order][best - 1]), float(np.nextafter(ANSWER_NOTHING, 0.0)))
    answered = conf >= threshold  # ties in confidence are answered together
    k = int(answered.sum())
    return {"threshold": threshold, "coverage": k / n, "accuracy": float(right[answered].mean()),
            "accuracy_lower_bound": 1 - _error_upper_bound(int((~right[answered]).sum()), k, step_delta),
            "delta": delta}


def abstention_report(calibration: "Calibration", calibrated: np.ndarray, y: np.ndarray) -> dict:
    """metrics.json's ``abstention``: the threshold, what it promised on held-out posts, and what
    it achieved on the test posts (which it never saw)."""
    conf, right = np.asarray(calibrated).max(1), np.asarray(calibrated).argmax(1) == np.asarray(y)
    answered = ~abstains(conf, calibration.threshold)
    return {"target_accuracy": calibration.target_accuracy, "delta": calibration.delta,
            "threshold": calibration.threshold, "held_out_coverage": calibration.coverage,
            "held_out_accuracy_lower_bound": calibration.accuracy_lower_bound,
            "test_coverage": float(answered.mean()) if len(answered) else 0.0,
            "test_accuracy_answered": float(right[answered].mean()) if answered.any() else None}


def coverage_curve(proba: np.ndarray, y: np.ndarray) -> list[dict]:
    """Selective prediction: accuracy on the posts answered at each coverage (most confident first)."""
    conf, right = np.asarray(proba).max(1), np.asarray(proba).argmax(1) == np.asarray(y)
    order = np.argsort(-conf, kind="stable")
    acc = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    n = len(order)
    picks = sorted({max(0, int(round(q * n)) - 1) for q in np.linspace(0.05, 1.0, 20)})
    return [{"coverage": (k + 1) / n, "accuracy": float(acc[k]), "threshold": float(conf[order][k])} for k in picks]


def calibration_metrics(raw: np.ndarray, calibrated: np.ndarray, y: np.ndarray, seed: int = 0) -> dict:
    """What metrics.json records about confidence on the test set."""
    y = np.asarray(y, dtype=int)
    return {"ece": ece(calibrated, y), "ece_ci": ece_interval(calibrated, y, seed=seed),
            "ece_floor": ece_floor(calibrated, seed=seed),
            "ece_uncalibrated": ece(raw, y), "ece_uncalibrated_ci": ece_interval(raw, y, seed=seed),
            "brier": brier(calibrated, y), "log_loss": nll(calibrated, y), "log_loss_uncalibrated": nll(raw, y),
            "mean_confidence": float(calibrated.max(1).mean()), "reliability": reliability(calibrated, y),
            "reliability_uncalibrated": reliability(raw, y), "ece_bins": ECE_BINS,
            "coverage_curve": coverage_curve(calibrated, y)}


@dataclass
class Calibration:
    temperature: float
    threshold: float  # abstain below this calibrated confidence
    target_accuracy: float
    fitted_on: str  # which posts T and the threshold were chosen on (never the test set)
    n: int
    method: str = "temperature scaling"
    # the guarantee (``guaranteed_threshold``); None in a folder made before it
    delta: float | None = None
    coverage: float | None = None  # share of the held-out posts answered
    accuracy_lower_bound: float | None = None  # of the answered held-out posts, at 1 - delta

    @classmethod
    def fit(cls, proba: np.ndarray, y: np.ndarray, fitted_on: str, target: float = DEFAULT_TARGET_ACCURACY,
            delta: float = DEFAULT_DELTA, temperature: float | None = None) -> "Calibration":
        """T fitted on ``proba`` (or the ``temperature`` given: 1 keeps probabilities that are
        calibrated already, as a cascade's members' are), then the guaranteed threshold under it."""
        t = fit_temperature(proba, y) if temperature is None else float(temperature)
        chosen = guaranteed_threshold(scale(proba, t), y, target, delta)
        return cls(t, chosen["threshold"], target, fitted_on, int(len(y)), delta=delta, coverage=chosen["coverage"],
                   accuracy_lower_bound=chosen["accuracy_lower_bound"],
                   method="temperature scaling" if temperature is None else "none (the members' calibration)")

    def save(self, directory: Path) -> None:
        (Path(directory) / CALIBRATION_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def from_dict(cls, saved: dict) -> "Calibration":
        """From what ``save`` wrote, once checked (``artifacts.registry.read_calibration``)."""
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})


class Calibrated:
    """A Classifier whose ``predict_proba`` is temperature-scaled; ``raw_proba`` gives the model's own."""

    def __init__(self, base: Classifier, calibration: Calibration) -> None:
        self.base = base
        self.calibration = calibration
        self.name, self.labels, self.batch_size = base.name, base.labels, base.batch_size
        # linear_contributions stays in the model's own score space (see its output space)
        # answering names a member, itself calibrated: the member's explanation is shown as its own
        for ability in ("explain_budget", "fingerprint", "linear_contributions", "visible_units", "answering"):
            if hasattr(base, ability):
                setattr(self, ability, getattr(base, ability))
        if hasattr(base, "predict_routed"):
            self.predict_routed = self._predict_routed

    def _predict_routed(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        p, members = self.base.predict_routed(texts)
        return (scale(p, self.calibration.temperature) if len(p) else p), members

    def raw_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.base.predict_proba(texts)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        p = self.base.predict_proba(texts)
        return scale(p, self.calibration.temperature) if len(p) else p

    @property
    def abstention_threshold(self) -> float:
        return self.calibration.threshold
