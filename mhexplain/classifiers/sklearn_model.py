"""Scikit-learn pipelines (NLTK preprocessing -> TF-IDF -> NB or LR) behind the Classifier interface."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from mhexplain.classifiers.linear import unit_contributions, visible_units
from mhexplain.classifiers.skops_files import SKOPS_FILE, load_skops
from mhexplain.classifiers.steps import CLASSIFIER_STEP, PREPROCESS_STEP, TFIDF_STEP
from mhexplain.core.classifier import DEFAULT_EXPLAIN_BUDGET, full_proba, validate_texts
from mhexplain.core.errors import ArtifactError
from mhexplain.preprocess import NltkPreprocessor

# How the TF-IDF step reads text: training never changes these, and a model folder that does (a
# regular expression that backtracks forever, a custom analyzer) could stall the whole server.
_TEXT_READING = ("input", "encoding", "decode_error", "strip_accents", "lowercase", "preprocessor", "tokenizer",
                 "analyzer", "token_pattern", "stop_words", "ngram_range")


def pipeline_problem(pipeline) -> str | None:
    """Why a loaded pipeline is not one that training writes, in words; None when it is."""
    steps = getattr(pipeline, "named_steps", {})
    if list(steps) != [PREPROCESS_STEP, TFIDF_STEP, CLASSIFIER_STEP] or not isinstance(steps[TFIDF_STEP],
                                                                                     TfidfVectorizer):
        return "its steps are not the ones training writes"
    prep = steps[PREPROCESS_STEP]
    if not isinstance(prep, NltkPreprocessor) or prep.n_jobs != 1:
        return "its preprocessing step is not the one training writes (n_jobs must be 1)"
    ours, theirs = TfidfVectorizer().get_params(), steps[TFIDF_STEP].get_params()
    changed = [k for k in _TEXT_READING if theirs.get(k) != ours[k]]
    return f"its TF-IDF step reads text differently ({', '.join(changed)})" if changed else None


def pipeline_proba(pipeline, texts: Sequence[str], batch_size: int, n_labels: int) -> np.ndarray:
    """A fitted pipeline's probabilities for ``texts`` in batches, a column for every class (0
    for a class the training split lacked)."""
    texts = validate_texts(texts, allow_empty=True)
    if not texts:
        return np.zeros((0, n_labels))
    parts = [pipeline.predict_proba(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    return full_proba(np.vstack(parts), pipeline.classes_, n_labels)


class SklearnClassifier:
    """A fitted scikit-learn pipeline that takes raw post text (preprocessing included)."""

    def __init__(self, pipeline, name: str, labels: Sequence[str], batch_size: int = 256) -> None:
        self.pipeline = pipeline
        self.name = name
        self.labels = tuple(labels)
        self.batch_size = batch_size

        # Only a preprocessing whose every step linear.py retraces can say which words it drops.
        if isinstance(getattr(pipeline, "named_steps", {}).get(PREPROCESS_STEP), NltkPreprocessor):
            self.visible_units = self._visible_units

    explain_budget = DEFAULT_EXPLAIN_BUDGET

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return pipeline_proba(self.pipeline, texts, self.batch_size, len(self.labels))

    def linear_contributions(self, text: str, spans) -> tuple[np.ndarray, np.ndarray, str]:
        """Exact contribution of each unit (character span) to each class's linear score."""
        contrib, bias, space = unit_contributions(self.pipeline, text, spans)
        classes = np.asarray(self.pipeline.classes_).astype(int)
        full_c, full_b = np.zeros((contrib.shape[0], len(self.labels))), np.zeros(len(self.labels))
        full_c[:, classes], full_b[classes] = contrib, bias
        return full_c, full_b, space

    def _visible_units(self, text: str, spans) -> np.ndarray:
        """The units that reach a feature of the model (see ``linear.visible_units``)."""
        return visible_units(self.pipeline, text, spans)


def load_sklearn(model_dir: Path, manifest: dict) -> SklearnClassifier:
    """The classifier of a checked model folder of kind ``sklearn`` (``classifiers.catalog``)."""
    labels = tuple(manifest["labels"])
    pipeline = load_skops(Path(model_dir) / SKOPS_FILE)
    classes = getattr(pipeline, "classes_", None)
    if (not hasattr(pipeline, "predict_proba") or classes is None
            or not set(np.asarray(classes).tolist()) <= set(range(len(labels)))):
        raise ArtifactError(f"{Path(model_dir) / SKOPS_FILE} does not predict the {len(labels)} classes its manifest lists; "
                            "retrain this model.")
    problem = pipeline_problem(pipeline)
    if problem:
        raise ArtifactError(f"{Path(model_dir) / SKOPS_FILE}: {problem}; retrain this model.")
    return SklearnClassifier(pipeline, name=manifest["name"], labels=labels)
