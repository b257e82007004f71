"""The shape of a model folder's JSON files, checked when a folder is read.

A hand-edited or re-hashed manifest, metrics or calibration file must be refused with one line
naming the file and the field, like a bad hash, instead of failing later in whichever page reads
it. The specs cover every field a page or a loader reads. A spec is a dict of key -> spec (every
key required unless wrapped in ``optional``), a type or tuple of types, ``list_of(spec)``,
``bounded(...)`` for a number in a range, or ``nullable(spec)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mhexplain.core.errors import ArtifactError

Number = (int, float)
# Rounding can put a mean of values in [0, 1] one ulp outside it; a tampered value is far outside.
_SLACK = 1e-9


@dataclass(frozen=True)
class list_of:  # noqa: N801 (reads as a type in the specs)
    item: Any
    length: int | None = None


@dataclass(frozen=True)
class optional:  # noqa: N801
    """A key that may be absent (its readers have a default); when present it must fit ``spec``."""
    spec: Any


@dataclass(frozen=True)
class nullable:  # noqa: N801
    spec: Any


@dataclass(frozen=True)
class bounded:  # noqa: N801
    """A finite number in [low, high] (``low_open``: above low); ``integer``: a whole number.
    ``nan_ok``: NaN is allowed too (a statistic that is undefined on some test sets)."""
    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False
    nan_ok: bool = False


SHARE = bounded(0, 1)  # probabilities, rates, scores
COUNT = bounded(0, integer=True)

_CLEANING = {"rows_read": COUNT, "rows_kept": COUNT, "duplicate_copies_dropped": COUNT, "empty_bodies": COUNT,
             "html_entity_bodies": COUNT, "conflicting_label_texts": COUNT, "conflicting_label_rows_dropped": COUNT,
             "posts_per_class": optional(list_of(COUNT)),
             "test_copies_of_train_dropped": optional(COUNT)}
_OVERLAP = {"groups_in_both": COUNT, "test_rows_in_shared_groups": COUNT}
MANIFEST_SPEC = {
    "kind": str,
    "name": str,
    "labels": list_of(str),
    "files": dict,
    "created": str,
    "train_seconds": bounded(0),
    "data": {"sha256": str, "file": optional(str), "test_file": optional(nullable(str)),
             "columns": optional({"text": nullable(str), "title": nullable(str), "label": nullable(str),
                                  "group": nullable(str), "split": nullable(str), "coders": list_of(str),
                                  "preset": nullable(str)}),
             "class_counts": optional({"train": dict, "test": dict})},
    "cleaning": _CLEANING,
    "split": {"protocol": str, "seed": int, "n_train": COUNT, "n_test": COUNT, "train_test_overlap": COUNT,
              "test_post_ids_sha256": str, "method": optional(str),
              "grouping": optional({"groups": COUNT, **_OVERLAP, "row_level_split": _OVERLAP})},
    "params": dict,
    "versions": dict,
    "calibration": optional({"threshold": SHARE, "target_accuracy": SHARE}),
    "masking": optional(nullable({"words": list_of(str)})),
    # a calibration variant (``artifacts.variant``): what the pages say about where it came from
    "calibration_variant": optional({"of": str, "original_manifest_sha256": str,
                                     "sample": {"file": str, "sha256": str, "posts": COUNT},
                                     "temperature_factor": bounded(0, 1e3, low_open=True), "cross_validation": dict}),
}

_PER_CLASS = {"precision": SHARE, "recall": SHARE, "f1": SHARE}
_BIN = {"count": COUNT, "confidence": nullable(SHARE), "accuracy": nullable(SHARE)}


_KAPPA = nullable(bounded(-1, 1))
_AGREEMENT = {"value": _KAPPA, "ci": list_of(_KAPPA, 2)}
_KAPPA_WITH = {"kappa": _KAPPA, "kappa_ci": list_of(_KAPPA, 2), "n": COUNT}
# metrics.json's coder_agreement (evaluation.agreement.agreement_report): what the Compare page reads
CODER_AGREEMENT_SPEC = {
    "coders": list_of(str), "n_items": COUNT,
    "pairs": list_of({"a": str, "b": str, **_KAPPA_WITH}),
    "alpha": {**_AGREEMENT, "n": COUNT},
    "majority": {"n": COUNT, "ties": COUNT},
    "coders_mean_kappa": _AGREEMENT,
    "models": dict,
}


def metrics_spec(labels) -> dict:
    """metrics.json: what the pages read, with per-class scores and a confusion matrix over ``labels``."""
    n = len(labels)
    return {
        "accuracy": SHARE,
        "macro_f1": SHARE,
        "macro_f1_ci": list_of(SHARE, 2),
        "cohen_kappa": bounded(-1, 1, nan_ok=True),
        "macro_avg": _PER_CLASS,
        "per_class": {lab: _PER_CLASS for lab in labels},
        "confusion_matrix": list_of(list_of(COUNT, n), n),
        "protocol": optional(str),
        "n_test": optional(COUNT),
        "train_test_overlap": optional(COUNT),
        "ece": optional(SHARE),
        "ece_ci": optional(list_of(SHARE, 2)),
        "ece_floor": optional({"mean": SHARE, "p95": SHARE, "draws": COUNT}),
        "ece_uncalibrated": optional(SHARE),
        "reliability": optional(list_of(_BIN)),
        "reliability_uncalibrated": optional(list_of(_BIN)),
        "coverage_curve": optional(list_of({"coverage": SHARE, "accuracy": SHARE})),
        "coder_agreement": optional(CODER_AGREEMENT_SPEC),
        "combination": optional(COMBINED_METRICS_SPEC),
        "abstention": optional({"target_accuracy": SHARE, "delta": nullable(SHARE), "threshold": SHARE,
                                "held_out_coverage": nullable(SHARE), "held_out_accuracy_lower_bound": nullable(SHARE),
                                "test_coverage": SHARE, "test_accuracy_answered": nullable(SHARE)}),
    }


# combination.json (a cascade's or an ensemble's, ``training.combined``): its members, each with the
# digest of the folder it was built from, and what was chosen on their held-out predictions
COMBINATION_SPEC = {"method": str, "members": list_of({"name": str, "artifact_sha256": str}),
                    "route_below": optional(SHARE), "tolerance": optional(SHARE), "confidence": optional(SHARE),
                    "weights": optional(list_of(SHARE)),
                    "weights_from": optional(str),
                    "chosen_on": str, "goal": str}
_CURVE_POINT = {"route_below": SHARE, "share_routed": SHARE, "macro_f1": SHARE,
                "validation_share_routed": SHARE, "validation_macro_f1": SHARE}
# metrics.json's ``combination``: what the Compare page draws (a cascade's curve, each model's speed)
COMBINED_METRICS_SPEC = {"method": str, "members": list_of(str),
                         "members_alone": list_of({"name": str, "macro_f1": SHARE, "validation_macro_f1": SHARE}),
                         "curve": optional(list_of(_CURVE_POINT)), "operating_point": optional(_CURVE_POINT),
                         "speed": optional({"posts": COUNT, "machine": str, "posts_per_second": list_of(
                             {"model": str, "posts_per_second": bounded(0, low_open=True)})})}

# calibration.json (mhexplain.trust.calibration.Calibration); the temperature's range is the loader's.
CALIBRATION_SPEC = {"temperature": bounded(0, 1e3, low_open=True), "threshold": SHARE, "target_accuracy": SHARE,
                    "fitted_on": str, "n": COUNT, "method": optional(str), "delta": optional(nullable(SHARE)),
                    "coverage": optional(nullable(SHARE)), "accuracy_lower_bound": optional(nullable(SHARE))}


def problem(obj: Any, spec: Any, where: str = "") -> str | None:
    """The first way ``obj`` departs from ``spec``, in words naming the field; None when it fits."""
    if isinstance(spec, dict):
        return _object_problem(obj, spec, where)
    if isinstance(spec, list_of):
        return _list_problem(obj, spec, where)
    if isinstance(spec, nullable):
        return None if obj is None else problem(obj, spec.spec, where)
    if isinstance(spec, bounded):
        return _number_problem(obj, spec, where)
    if isinstance(obj, bool) or not isinstance(obj, spec):  # bool is an int to Python, never to us
        return f"{where or 'the file'} should be {_name(spec)}, not {_type(obj)}"
    return None


def _object_problem(obj: Any, spec: dict, where: str) -> str | None:
    if not isinstance(obj, dict):
        return f"{where or 'the file'} should be an object, not {_type(obj)}"
    for key, sub in spec.items():
        path = f"{where}.{key}" if where else key
        if isinstance(sub, optional):
            if key not in obj:
                continue
            sub = sub.spec
        if key not in obj:
            return f"{path} is missing"
        found = problem(obj[key], sub, path)
        if found:
            return found
    return None


def _list_problem(obj: Any, spec: list_of, where: str) -> str | None:
    if not isinstance(obj, list):
        return f"{where} should be a list, not {_type(obj)}"
    if spec.length is not None and len(obj) != spec.length:
        return f"{where} should have {spec.length} items, not {len(obj)}"
    for i, item in enumerate(obj):
        found = problem(item, spec.item, f"{where}[{i}]")
        if found:
            return found
    return None


def _number_problem(obj: Any, spec: bounded, where: str) -> str | None:
    if isinstance(obj, bool) or not isinstance(obj, Number):
        return f"{where} should be {'an integer' if spec.integer else 'a number'}, not {_type(obj)}"
    if math.isnan(obj):
        return None if spec.nan_ok else f"{where} should be a number, not NaN"
    if spec.integer and not isinstance(obj, int):
        return f"{where} should be an integer, not {obj!r}"
    low_ok = spec.low is None or (obj > spec.low if spec.low_open else obj >= spec.low - _SLACK)
    high_ok = spec.high is None or obj <= spec.high + _SLACK
    if not (low_ok and high_ok and math.isfinite(obj)):
        return f"{where} should be {_range(spec)}, not {obj!r}"
    return None


def _range(spec: bounded) -> str:
    if spec.low is not None and spec.high is not None and not spec.low_open:
        return f"between {spec.low:g} and {spec.high:g}"
    parts = []
    if spec.low is not None:
        parts.append(f"{'above' if spec.low_open else 'at least'} {spec.low:g}")
    if spec.high is not None:
        parts.append(f"at most {spec.high:g}")
    return " and ".join(parts) or "finite"


def _type(obj: Any) -> str:
    return "null" if obj is None else {bool: "true/false", str: "text", dict: "an object", list: "a list"}.get(
        type(obj), type(obj).__name__)


def _name(t) -> str:
    if isinstance(t, tuple):
        return "a number" if t == Number else " or ".join(x.__name__ for x in t)
    return {str: "text", int: "an integer", dict: "an object", list: "a list"}.get(t, getattr(t, "__name__", "?"))


def check(obj: Any, spec: Any, source: str) -> None:
    found = problem(obj, spec)
    if found:
        raise ArtifactError(f"{source} is not a valid mhexplain file: {found}; retrain this model.")


def check_metrics(metrics: Any, labels: list[str], source: str) -> None:
    check(metrics, metrics_spec(labels), source)
    report = metrics.get("coder_agreement")
    if report:  # each model's entry names the coders: its shape follows from the report's coders
        model_spec = {"coders": {c: _KAPPA_WITH for c in report["coders"]}, "majority": _KAPPA_WITH,
                      "alpha_with_coders": {**_AGREEMENT, "n": COUNT}, "mean_kappa_with_coders": _AGREEMENT}
        check(report["models"], {m: model_spec for m in report["models"]}, source)
