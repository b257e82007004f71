"""Scikit-learn pipelines (NLTK preprocessing -> TF-IDF -> NB or LR) behind the Classifier interface."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .classifier import DEFAULT_EXPLAIN_BUDGET, full_proba, validate_texts
from .labels import LABELS

# The step names of every saved classical pipeline: written by train/classical.py, read here and
# by the linear explanations.
PREPROCESS_STEP, TFIDF_STEP, CLASSIFIER_STEP = "preprocess", "tfidf", "clf"


class SklearnClassifier:
    """A fitted scikit-learn pipeline that takes raw post text (preprocessing included)."""

    def __init__(self, pipeline, name: str, labels: Sequence[str] = LABELS, batch_size: int = 256) -> None:
        self.pipeline = pipeline
        self.name = name
        self.labels = tuple(labels)
        self.batch_size = batch_size
        from .preprocess import NltkPreprocessor

        # Only a preprocessing whose every step linear.py retraces can say which words it drops.
        if isinstance(getattr(pipeline, "named_steps", {}).get(PREPROCESS_STEP), NltkPreprocessor):
            self.visible_units = self._visible_units

    explain_budget = DEFAULT_EXPLAIN_BUDGET

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

    def _visible_units(self, text: str, spans) -> np.ndarray:
        """The units that reach a feature of the model (see ``linear.visible_units``)."""
        from .linear import visible_units

        return visible_units(self.pipeline, text, spans)
