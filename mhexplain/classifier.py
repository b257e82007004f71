"""The one interface every model implements, and the scikit-learn implementation.

Explainers, metrics and pages only use ``labels``, ``name`` and ``predict_proba``; they never
ask which kind of model they hold.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import InputTextError
from .labels import LABELS

MAX_POST_CHARS = 200_000


@runtime_checkable
class Classifier(Protocol):
    name: str
    labels: tuple[str, ...]
    batch_size: int

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Raw post texts in, (n, len(labels)) class probabilities out, rows summing to 1."""
        ...


def validate_texts(texts: Sequence[str], allow_empty: bool = False) -> list[str]:
    if isinstance(texts, str):
        raise InputTextError("Expected a list of posts, got a single string.")
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputTextError(f"Post {i + 1} is {type(t).__name__}, not text.")
        if not allow_empty and not t.strip():
            raise InputTextError("The post is empty: paste some text first." if len(texts) == 1
                                 else f"Post {i + 1} is empty.")
        if len(t) > MAX_POST_CHARS:
            raise InputTextError(f"Post {i + 1} has {len(t):,} characters; the limit is {MAX_POST_CHARS:,}.")
        out.append(t)
    return out


class SklearnClassifier:
    """A fitted scikit-learn pipeline that takes raw post text (preprocessing included)."""

    def __init__(self, pipeline, name: str, labels: Sequence[str] = LABELS, batch_size: int = 256) -> None:
        self.pipeline = pipeline
        self.name = name
        self.labels = tuple(labels)
        self.batch_size = batch_size

    # LIME/SHAP evaluations per explanation: p90 under a second here (docs/BENCHMARKS.md).
    explain_budget = 1000

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = validate_texts(texts, allow_empty=True)
        if not texts:
            return np.zeros((0, len(self.labels)))
        parts = [self.pipeline.predict_proba(texts[i:i + self.batch_size])
                 for i in range(0, len(texts), self.batch_size)]
        return full_proba(np.vstack(parts), self.pipeline.classes_, len(self.labels))

    def linear_contributions(self, text: str, spans) -> tuple[np.ndarray, np.ndarray, str]:
        """Exact contribution of each unit (character span) to each class's linear score."""
        from .linear import unit_contributions

        contrib, bias, space = unit_contributions(self.pipeline, text, spans)
        classes = np.asarray(self.pipeline.classes_).astype(int)
        full_c, full_b = np.zeros((contrib.shape[0], len(self.labels))), np.zeros(len(self.labels))
        full_c[:, classes], full_b[classes] = contrib, bias
        return full_c, full_b, space


def full_proba(p: np.ndarray, classes, n_labels: int) -> np.ndarray:
    """Place the columns of a model trained on a subset of classes into the full label space."""
    classes = np.asarray(classes).astype(int)
    if len(classes) == n_labels and (classes == np.arange(n_labels)).all():
        return p
    out = np.zeros((p.shape[0], n_labels))
    out[:, classes] = p
    return out
