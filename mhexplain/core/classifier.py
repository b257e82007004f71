"""The one interface every model implements, and what callers may ask of it.

Explainers, metrics and pages use ``name``, ``labels``, ``batch_size`` and ``predict_proba``;
they never ask which kind of model they hold. Seven abilities are optional, each with one
meaning and one way to read it (the functions below), in the manner of scikit-learn's
``hasattr``-checked methods:

- ``explain_budget`` (int): model evaluations LIME/SHAP may spend by default.
- ``fingerprint`` (str): identifies the saved artifact the model was loaded from; it keys caches.
- ``linear_contributions(text, spans)``: the exact contribution of each character span of
  ``text`` to each class's linear score, as ``(contributions (n_spans, n_labels), bias
  (n_labels,), output space)``; only models that are linear in their features have it.
- ``visible_units(text, spans)``: for each character span of ``text`` (a word of the post), whether
  the model sees it, as a boolean array (n_spans,). A span it does not see (its preprocessing drops
  it, it has no feature for it, or its input mask deletes it) is no feature of an explanation: it
  stays as written in every perturbed post and weighs exactly 0. Without the ability the model
  sees every span.
- ``abstention_threshold`` (float): the confidence below which the model abstains ("uncertain");
  a calibrated model has one, chosen on validation data. Without it the model always answers.
- ``answering(text)``: for a model whose answer to a post is one of its members' (a cascade), the
  member that answers ``text``; its explanation stands for the model's on that post.
- ``predict_routed(texts)``: ``predict_proba``'s probabilities with, for each post, the name of
  the member that gave them (a cascade); tables show it beside the prediction.

This module depends on numpy alone: nothing here knows scikit-learn, NLTK or torch.
"""
from __future__ import annotations

import re
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from mhexplain.core.errors import InputTextError

MAX_POST_CHARS = 200_000
# Evaluations per explanation when a model names none: NB/LR p90 under a second and BERT (MiniLM,
# bf16) SHAP 0.8 s / LIME 6 s at the median on 2 cores (docs/BENCHMARKS.md).
DEFAULT_EXPLAIN_BUDGET = 1000
# Lone surrogates: what Python makes of invalid UTF-8 bytes in argv, stdin or a decoded file. No
# tokenizer accepts them, so every model sees U+FFFD instead, as a UTF-8 decoder would give.
_SURROGATES = re.compile("[\ud800-\udfff]")


@runtime_checkable
class Classifier(Protocol):
    name: str
    labels: tuple[str, ...]
    batch_size: int

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Raw post texts in, (n, len(labels)) class probabilities out, rows summing to 1."""
        ...


def explain_budget(clf: Classifier) -> int:
    return int(getattr(clf, "explain_budget", DEFAULT_EXPLAIN_BUDGET))


def fingerprint(clf: Classifier) -> str:
    """The saved artifact's hash where the model was loaded from one; else this object's identity."""
    return getattr(clf, "fingerprint", None) or f"{clf.name}@{id(clf):x}"


def linear_contributions(clf: Classifier) -> Callable | None:
    return getattr(clf, "linear_contributions", None)


def visible_units(clf: Classifier, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Which of ``spans`` the model sees: its ``visible_units`` where it declares one, else all."""
    fn = getattr(clf, "visible_units", None)
    if fn is None:
        return np.ones(len(spans), dtype=bool)
    seen = np.asarray(fn(text, spans), dtype=bool)
    if seen.shape != (len(spans),):
        raise ValueError(f"{clf.name}: visible_units gave {seen.shape} for {len(spans)} spans")
    return seen


def abstention_threshold(clf: Classifier) -> float | None:
    """Where ``clf`` abstains: below this confidence it says "uncertain" (None: it always answers)."""
    value = getattr(clf, "abstention_threshold", None)
    return None if value is None else float(value)


def answering(clf: Classifier, text: str) -> Classifier | None:
    """The member of ``clf`` that answers ``text`` (None: ``clf`` answers as a whole)."""
    fn = getattr(clf, "answering", None)
    return None if fn is None else fn(text)


def predict_routed(clf: Classifier) -> Callable | None:
    return getattr(clf, "predict_routed", None)


# A threshold of 1 means "answer no post" (no threshold kept the target with its guarantee): a
# confidence of exactly 1.0 is no exception. A data-chosen threshold is always below it.
ANSWER_NOTHING = 1.0


def abstains(confidence, threshold: float | None) -> np.ndarray:
    """Whether a model with ``threshold`` abstains at each ``confidence``: the one rule everywhere
    a prediction is shown or written."""
    confidence = np.asarray(confidence, dtype=float)
    if threshold is None:
        return np.zeros(confidence.shape, dtype=bool)
    if threshold >= ANSWER_NOTHING:
        return np.ones(confidence.shape, dtype=bool)
    return confidence < threshold


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
        out.append(_SURROGATES.sub("\ufffd", t))
    return out


def full_proba(p: np.ndarray, classes, n_labels: int) -> np.ndarray:
    """Place the columns of a model trained on a subset of classes into the full label space."""
    classes = np.asarray(classes).astype(int)
    if len(classes) == n_labels and (classes == np.arange(n_labels)).all():
        return p
    out = np.zeros((p.shape[0], n_labels))
    out[:, classes] = p
    return out
