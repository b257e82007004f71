"""Exact per-word contributions of a linear model on TF-IDF of NLTK-preprocessed text.

For NB the class score is ``log prior + sum_f x_f * log P(f | class)``; for LR it is
``intercept + sum_f x_f * coef_f``. Each feature's term is shared among the occurrences of its
lemma, and each occurrence is traced back to the characters of the original post it came from,
so the contributions land on the user's own words and add up exactly to the model's score.
"""
from __future__ import annotations

import re

import numpy as np

from mhexplain.classifiers.steps import CLASSIFIER_STEP, PREPROCESS_STEP, TFIDF_STEP
from mhexplain.preprocess import NON_LETTERS, SPLIT_CONTRACTIONS, lemmas

_TOKEN = re.compile(r"\S+")


def lemmas_with_sources(text: str) -> list[tuple[str, list[int]]]:
    """The preprocessed lemmas of ``text``, each with the indices of the original characters
    it came from. ``" ".join(lemma for lemma, _ in result) == preprocess_text(text)``."""
    tokens = tokens_with_sources(text)
    return [(lemma, tokens[i][1]) for i, lemma in lemmas([t for t, _ in tokens])]


def tokens_with_sources(text: str) -> list[tuple[str, list[int]]]:
    """The tokens the preprocessing tags (stopwords included), each with the indices of the
    original characters it came from."""
    chars, src = [], []
    for i, ch in enumerate(text):
        for c in ch.lower():
            if not NON_LETTERS.match(c):
                chars.append(c)
                src.append(i)
    low = "".join(chars)
    tokens: list[tuple[str, list[int]]] = []
    for m in _TOKEN.finditer(low):
        sources = src[m.start():m.end()]
        for part in SPLIT_CONTRACTIONS.get(m.group(), (m.group(),)):
            tokens.append((part, sources))
    return tokens


def linear_parts(clf) -> tuple[np.ndarray, np.ndarray, str]:
    """(weights (n_classes, n_features), bias (n_classes,), output space) of a fitted linear model."""
    if hasattr(clf, "feature_log_prob_"):
        return clf.feature_log_prob_, clf.class_log_prior_, "joint log-likelihood"
    if hasattr(clf, "estimators_"):  # one-vs-rest: one binary model per class
        W = np.vstack([e.coef_ for e in clf.estimators_])
        b = np.concatenate([e.intercept_ for e in clf.estimators_])
        return W, b, "one-vs-rest log-odds"
    if hasattr(clf, "coef_"):
        W, b = np.asarray(clf.coef_, dtype=float), np.asarray(clf.intercept_, dtype=float)
        if W.shape[0] == 1 and len(getattr(clf, "classes_", ())) == 2:
            # two classes: one row of weights for the second class's log-odds z; the logits
            # (-z/2, z/2) have the same softmax, sigmoid(z), and give each class its own share
            return np.vstack([-W / 2, W / 2]), np.concatenate([-b / 2, b / 2]), "log-odds (softmax logits)"
        return W, b, "log-odds (softmax logits)"
    raise TypeError(f"{type(clf).__name__} is not a linear model")


def _feature_occurrences(tfidf, found: list[tuple[str, list[int]]]) -> dict[int, list[list[int]]]:
    """For each TF-IDF feature among the lemmas ``found``, the source characters of each occurrence."""
    vocab = tfidf.vocabulary_
    analyzer = tfidf.build_analyzer()
    occurrences: dict[int, list[list[int]]] = {}
    for lemma, sources in found:
        for tok in analyzer(lemma):  # the vectorizer's own token rule (drops 1-letter lemmas)
            f = vocab.get(tok)
            if f is not None:
                occurrences.setdefault(f, []).append(sources)
    return occurrences


def char_units(text: str, spans) -> np.ndarray:
    """For each character of ``text``, the index of the span holding it, or -1."""
    char_unit = np.full(len(text), -1)
    for u, (a, b) in enumerate(spans):
        char_unit[a:b] = u
    return char_unit


def unit_contributions(pipeline, text: str, spans) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-unit contributions (n_units, n_classes), the bias, and the output space."""
    tfidf, clf = pipeline.named_steps[TFIDF_STEP], pipeline.named_steps[CLASSIFIER_STEP]
    W, bias, space = linear_parts(clf)
    found = lemmas_with_sources(text)
    x = tfidf.transform([" ".join(lm for lm, _ in found)]).toarray()[0]
    occurrences = _feature_occurrences(tfidf, found)
    char_unit = char_units(text, spans)
    out = np.zeros((len(spans), W.shape[0]))
    for f, occ in occurrences.items():
        term = W[:, f] * x[f] / len(occ)
        for sources in occ:
            units = sorted({int(char_unit[i]) for i in sources if char_unit[i] >= 0})
            for u in units:
                out[u] += term / len(units)
    return out, np.asarray(bias, dtype=float), space


def visible_units(pipeline, text: str, spans) -> np.ndarray:
    """Which units (character spans of ``text``) the pipeline sees: those that give a TF-IDF
    feature its letters. The others (punctuation, digits, stopwords, 1-letter words, words outside
    the vocabulary) reach no feature; a stopword or unknown word still steers the POS tags, and so
    the lemmas, of its neighbours, which is why explanations keep them as written rather than
    delete them. A unit whose letters run into another unit's ("word,word" is one token) counts
    as seen, since deleting it would change that token."""
    char_unit = char_units(text, spans)
    seen = np.zeros(len(spans), dtype=bool)
    for _, sources in tokens_with_sources(text):
        units = np.unique(char_unit[sources])
        units = units[units >= 0]
        if len(units) > 1:
            seen[units] = True
    for occ in _feature_occurrences(pipeline.named_steps[TFIDF_STEP], lemmas_with_sources(text)).values():
        for sources in occ:
            units = char_unit[sources]
            seen[units[units >= 0]] = True
    return seen


def decision_scores(pipeline, text: str) -> np.ndarray:
    """The linear score the contributions decompose (for tests and sanity checks)."""
    tfidf, clf = pipeline.named_steps[TFIDF_STEP], pipeline.named_steps[CLASSIFIER_STEP]
    X = tfidf.transform(pipeline.named_steps[PREPROCESS_STEP].transform([text]))
    W, b, _ = linear_parts(clf)
    return np.asarray(X @ W.T).ravel() + b
