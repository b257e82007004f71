"""The shape of a model folder's JSON files, checked when a folder is read.

A hand-edited or re-hashed manifest or metrics file must be refused with one line, like a bad
hash, instead of failing later in whichever page reads the missing key. A spec is a dict of
key -> type, a tuple of allowed types, or a nested spec; ``list_of(t)`` is a list whose items
are all ``t``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ArtifactError

Number = (int, float)


@dataclass(frozen=True)
class list_of:  # noqa: N801 (reads as a type in the specs)
    item: Any
    length: int | None = None


MANIFEST_SPEC = {
    "kind": str,
    "name": str,
    "labels": list_of(str),
    "files": dict,
    "created": str,
    "train_seconds": Number,
    "data": {"sha256": str},
    "cleaning": {"rows_read": int, "rows_kept": int, "duplicate_copies_dropped": int, "empty_bodies": int,
                 "html_entity_bodies": int, "conflicting_label_texts": int, "conflicting_label_rows_dropped": int},
    "split": {"protocol": str, "seed": int, "n_train": int, "n_test": int, "train_test_overlap": int,
              "test_post_ids_sha256": str},
    "params": dict,
    "versions": dict,
}

_PER_CLASS = {"precision": Number, "recall": Number, "f1": Number}
METRICS_SPEC = {
    "accuracy": Number,
    "macro_f1": Number,
    "macro_f1_ci": list_of(Number, 2),
    "cohen_kappa": Number,
    "macro_avg": _PER_CLASS,
    "per_class": dict,
    "confusion_matrix": list,
}


def problem(obj: Any, spec: Any, where: str = "") -> str | None:
    """The first way ``obj`` departs from ``spec``, in words; None when it fits."""
    if isinstance(spec, dict):
        if not isinstance(obj, dict):
            return f"{where or 'the file'} is not an object"
        for key, sub in spec.items():
            path = f"{where}.{key}" if where else key
            if key not in obj:
                return f"{path} is missing"
            found = problem(obj[key], sub, path)
            if found:
                return found
        return None
    if isinstance(spec, list_of):
        if not isinstance(obj, list) or any(problem(x, spec.item, where) for x in obj):
            return f"{where} is not a list of {_name(spec.item)}"
        if spec.length is not None and len(obj) != spec.length:
            return f"{where} should have {spec.length} items, not {len(obj)}"
        return None
    if isinstance(obj, bool) or not isinstance(obj, spec):  # bool is an int to Python, never to us
        return f"{where} should be {_name(spec)}, not {type(obj).__name__}"
    return None


def _name(t) -> str:
    if isinstance(t, tuple):
        return "a number" if t == Number else " or ".join(x.__name__ for x in t)
    if isinstance(t, dict):
        return "an object"
    return {str: "text", int: "an integer", dict: "an object", list: "a list"}.get(t, getattr(t, "__name__", "?"))


def check(obj: Any, spec: Any, source: str) -> None:
    found = problem(obj, spec)
    if found:
        raise ArtifactError(f"{source} is not a valid mhexplain file: {found}; retrain this model.")


def check_metrics(metrics: Any, labels: list[str], source: str) -> None:
    check(metrics, METRICS_SPEC, source)
    n = len(labels)
    missing = [lab for lab in labels if problem(metrics["per_class"].get(lab), _PER_CLASS)]
    if missing:
        raise ArtifactError(f"{source} lacks per-class scores for {', '.join(missing)}; retrain this model.")
    cm = metrics["confusion_matrix"]
    if len(cm) != n or any(not isinstance(row, list) or len(row) != n for row in cm):
        raise ArtifactError(f"{source}: the confusion matrix is not {n} x {n}; retrain this model.")
