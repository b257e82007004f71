"""The TF-IDF vocabulary is a function of the training posts alone: not of their order, not of the CPU."""
import random

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from mhexplain.training.classical import MAX_FEATURES, fit_models, top_terms


def _docs(seed=0, n=1500, n_words=9000):
    rng = random.Random(seed)
    words = [f"w{i:04d}" for i in range(n_words)]
    # Zipf-like counts leave hundreds of terms tied at the cut-off, as in the real posts.
    weights = [1 / (i + 1) for i in range(n_words)]
    return [" ".join(rng.choices(words, weights, k=rng.randint(10, 60))) for _ in range(n)]


def _term_counts(docs):
    cv = CountVectorizer().fit(docs)
    return dict(zip(cv.get_feature_names_out(), np.asarray(cv.transform(docs).sum(axis=0)).ravel()))


def test_trained_vocabulary_ignores_row_order_and_breaks_ties_alphabetically():
    docs = _docs()
    y = np.arange(len(docs)) % 3
    nb = fit_models(["nb"], docs, y, n_jobs=1, seed=0)["nb"]
    vocab = set(nb["tfidf"].vocabulary_)
    assert len(vocab) == MAX_FEATURES
    # the size is top_terms' alone (TF-IDF's own max_features is unused beside a vocabulary); the
    # manifest still records it
    assert nb["tfidf"].max_features is None and nb["params"]["max_features"] == MAX_FEATURES
    tf = _term_counts(docs)
    cut = min(tf[t] for t in vocab)
    tied = sorted(t for t, c in tf.items() if c == cut)
    assert 1 < sum(t in vocab for t in tied) < len(tied), "the fixture must have ties at the cut-off"
    assert {t for t, c in tf.items() if c > cut} <= vocab
    kept_tied = [t for t in tied if t in vocab]
    assert kept_tied == tied[: len(kept_tied)]
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(docs))
        again = fit_models(["nb"], [docs[i] for i in order], y[order], n_jobs=1, seed=0)["nb"]["tfidf"]
        assert set(again.vocabulary_) == vocab


def test_same_terms_as_scikit_learn_when_nothing_ties():
    docs = ["aa aa aa aa bb bb bb cc cc dd", "aa bb cc", "ee"]
    ours = top_terms(docs, 3)
    theirs = TfidfVectorizer(max_features=3).fit(docs).get_feature_names_out().tolist()
    assert ours == theirs == ["aa", "bb", "cc"]
    assert top_terms(docs, 100) == ["aa", "bb", "cc", "dd", "ee"]
