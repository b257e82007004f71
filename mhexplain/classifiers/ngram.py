"""The strong linear baseline: logistic regression on TF-IDF of word 1-2-grams and character
2-5-grams (within words) of the raw post, behind the Classifier interface.

No NLTK step: the features are read from the post as the models receive it, so the exact linear
explanation can trace every feature back to the characters it came from. A word n-gram belongs
to the words it joins; a character n-gram (scikit-learn's ``char_wb``: within one whitespace-
separated chunk, padded with a space each side) belongs to that chunk. Each feature's term
(its TF-IDF value times the class weight) is shared among its occurrences, and each occurrence's
share among the units (words) holding its characters: the contributions add up to the model's
logits exactly.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from mhexplain.classifiers.linear import char_units, linear_parts
from mhexplain.classifiers.sklearn_model import pipeline_proba
from mhexplain.classifiers.skops_files import SKOPS_FILE, load_skops
from mhexplain.classifiers.steps import CLASSIFIER_STEP
from mhexplain.core.classifier import DEFAULT_EXPLAIN_BUDGET
from mhexplain.core.errors import ArtifactError

FEATURES_STEP, WORDS, CHARS = "features", "words", "chars"
WORD_NGRAMS, CHAR_NGRAMS = (1, 2), (2, 5)
MIN_DF = 2
# How each vectorizer reads text, as training builds it; a loaded model must read text the same
# way, or its explanation would trace the wrong features (and a custom analyzer could run code).
_READING = {WORDS: {"analyzer": "word", "ngram_range": WORD_NGRAMS, "lowercase": True, "token_pattern":
                    r"(?u)\b\w\w+\b", "tokenizer": None, "preprocessor": None, "stop_words": None,
                    "strip_accents": None, "input": "content", "binary": False, "use_idf": True,
                    "sublinear_tf": True, "norm": "l2"},
            CHARS: {"analyzer": "char_wb", "ngram_range": CHAR_NGRAMS, "lowercase": True, "tokenizer": None,
                    "preprocessor": None, "stop_words": None, "strip_accents": None, "input": "content",
                    "binary": False, "use_idf": True, "sublinear_tf": True, "norm": "l2"}}
_WORD = re.compile(_READING[WORDS]["token_pattern"])


def build_pipeline(C: float, seed: int) -> Pipeline:
    """The pipeline training fits: the two vectorizers side by side, then multinomial LR."""
    vectorizers = [(name, TfidfVectorizer(min_df=MIN_DF, **_READING[name])) for name in (WORDS, CHARS)]
    return Pipeline([(FEATURES_STEP, FeatureUnion(vectorizers)),
                     (CLASSIFIER_STEP, LogisticRegression(C=C, max_iter=3000, tol=1e-3, random_state=seed))])


def word_occurrences(text: str) -> list[tuple[str, list[int]]]:
    """The word 1- and 2-grams of ``text`` as the word vectorizer reads them, each with the indices
    of the characters it came from."""
    # lowercased first, as scikit-learn reads it ("İ" becomes two characters, a final sigma
    # depends on its neighbours), each lowercased character traced to the one it came from
    low = text.lower()
    source = [i for i, ch in enumerate(text) for _ in ch.lower()] if len(low) != len(text) else range(len(text))
    tokens = [(m.group(), sorted(set(source[m.start():m.end()]))) for m in _WORD.finditer(low)]
    grams = list(tokens)
    grams += [(f"{a} {b}", sa + sb) for (a, sa), (b, sb) in zip(tokens, tokens[1:])]
    return grams


def char_occurrences(text: str) -> list[tuple[str, list[int]]]:
    """The character 2-5-grams of ``text`` as ``char_wb`` reads them (within each white-space-
    separated chunk, padded with one space each side), each with its chunk's characters."""
    out = []
    for m in re.finditer(r"\S+", text):
        chunk, sources = f" {m.group().lower()} ", list(range(m.start(), m.end()))
        for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
            out += [(chunk[i:i + n], sources) for i in range(len(chunk) - n + 1)]
    return out


def _occurrences(features: FeatureUnion, text: str) -> dict[int, list[list[int]]]:
    """For each feature of the union found in ``text``, the source characters of each occurrence."""
    found: dict[int, list[list[int]]] = {}
    offset = 0
    for name, vectorizer in features.transformer_list:
        vocab = vectorizer.vocabulary_
        for gram, sources in (word_occurrences(text) if name == WORDS else char_occurrences(text)):
            f = vocab.get(gram)
            if f is not None:
                found.setdefault(offset + f, []).append(sources)
        offset += len(vocab)
    return found


class NgramClassifier:
    """A fitted n-gram pipeline that takes the post as the models receive it."""

    def __init__(self, pipeline: Pipeline, name: str, labels: Sequence[str], batch_size: int = 256) -> None:
        self.pipeline, self.name, self.labels, self.batch_size = pipeline, name, tuple(labels), batch_size

    explain_budget = DEFAULT_EXPLAIN_BUDGET

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return pipeline_proba(self.pipeline, texts, self.batch_size, len(self.labels))

    def linear_contributions(self, text: str, spans) -> tuple[np.ndarray, np.ndarray, str]:
        """Each unit's exact share of each class's logit, the intercepts, and the output space."""
        features, clf = self.pipeline.named_steps[FEATURES_STEP], self.pipeline.named_steps[CLASSIFIER_STEP]
        W, bias, space = linear_parts(clf)
        x = features.transform([text]).toarray()[0]
        char_unit = char_units(text, spans)
        out = np.zeros((len(spans), W.shape[0]))
        for f, occ in _occurrences(features, text).items():
            term = W[:, f] * x[f] / len(occ)
            for sources in occ:
                units = np.unique(char_unit[sources])
                units = units[units >= 0]
                for u in units:
                    out[u] += term / len(units)
        classes = np.asarray(clf.classes_).astype(int)
        full_c, full_b = np.zeros((len(spans), len(self.labels))), np.zeros(len(self.labels))
        full_c[:, classes], full_b[classes] = out, bias
        return full_c, full_b, space

    def visible_units(self, text: str, spans) -> np.ndarray:
        """The units whose characters give a feature of the model its letters."""
        char_unit = char_units(text, spans)
        seen = np.zeros(len(spans), dtype=bool)
        for occ in _occurrences(self.pipeline.named_steps[FEATURES_STEP], text).values():
            for sources in occ:
                units = char_unit[sources]
                seen[units[units >= 0]] = True
        return seen


def pipeline_problem(pipeline) -> str | None:
    """Why a loaded pipeline is not one that training writes, in words; None when it is."""
    steps = getattr(pipeline, "named_steps", {})
    if list(steps) != [FEATURES_STEP, CLASSIFIER_STEP] or not isinstance(steps[FEATURES_STEP], FeatureUnion) \
            or not isinstance(steps[CLASSIFIER_STEP], LogisticRegression):
        return "its steps are not the ones training writes"
    parts = dict(steps[FEATURES_STEP].transformer_list)
    union = steps[FEATURES_STEP]
    if list(parts) != [WORDS, CHARS] or not all(isinstance(v, TfidfVectorizer) for v in parts.values()):
        return "its features are not the ones training writes"
    if union.transformer_weights is not None or union.n_jobs not in (None, 1):
        # weights would change every prediction silently; n_jobs would start processes in the server
        return "its features are weighted or spread over processes, as training never does"
    for name, reading in _READING.items():
        params = parts[name].get_params()
        changed = [k for k, v in reading.items() if params.get(k) != v]
        if changed:
            return f"its {name} vectorizer reads text differently ({', '.join(changed)})"
    return None


def load_ngram(model_dir: Path, manifest: dict) -> NgramClassifier:
    """The classifier of a checked model folder of kind ``ngram`` (``classifiers.catalog``)."""
    labels = tuple(manifest["labels"])
    path = Path(model_dir) / SKOPS_FILE
    pipeline = load_skops(path)
    problem = pipeline_problem(pipeline)
    classes = getattr(pipeline, "classes_", None)
    if problem is None and (classes is None or not set(np.asarray(classes).tolist()) <= set(range(len(labels)))):
        problem = f"it does not predict the {len(labels)} classes its manifest lists"
    if problem:
        raise ArtifactError(f"{path}: {problem}; retrain this model.")
    return NgramClassifier(pipeline, name=manifest["name"], labels=labels)
