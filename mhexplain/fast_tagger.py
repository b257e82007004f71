"""NLTK's averaged-perceptron POS tagger with its scoring done in numpy.

Same weights, same features, same tie-break, so the tags are NLTK's own (the tests compare
them word for word). NLTK's ``predict`` accumulates scores in a Python dict per feature and
label; here each feature is a row of a weight matrix and a token's scores are one sum of rows.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np


def _source_key() -> str:
    """Names the NLTK tagger data and version a cached matrix was built from."""
    import nltk

    loc = nltk.data.find("taggers/averaged_perceptron_tagger_eng/")
    path = Path(loc.zipfile.filename if hasattr(loc, "zipfile") else loc.path)
    stat = path.stat()
    raw = f"{nltk.__version__}|{path}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _cache_file(cache_dir: Path) -> Path:
    return Path(cache_dir) / f"tagger-{_source_key()}.npz"


def _from_nltk():
    from nltk.tag.perceptron import PerceptronTagger

    base = PerceptronTagger()
    # NLTK breaks score ties by the larger label string: order columns so argmax's first-maximum
    # rule does the same.
    classes = sorted(base.classes, reverse=True)
    col = {c: i for i, c in enumerate(classes)}
    feats = list(base.model.weights)
    W = np.zeros((len(feats), len(classes)))
    for i, f in enumerate(feats):
        for label, w in base.model.weights[f].items():
            W[i, col[label]] = w
    assert base.START == ["-START-", "-START2-"] and base.END == ["-END-", "-END2-"]
    return (np.array(feats, dtype=str), W, np.array(classes, dtype=str),
            np.array(list(base.tagdict), dtype=str), np.array(list(base.tagdict.values()), dtype=str))


def _load_cached(cache_dir: Path):
    try:
        with np.load(_cache_file(cache_dir), allow_pickle=False) as z:
            return z["features"], z["W"], z["classes"], z["tag_words"], z["tag_tags"]
    except (OSError, KeyError, ValueError, LookupError):
        return None  # absent, torn or from another version: rebuild


def _save_cached(cache_dir: Path, arrays) -> None:
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **dict(zip(("features", "W", "classes", "tag_words", "tag_tags"), arrays)))
        os.replace(tmp, _cache_file(cache_dir))
    except OSError:
        pass  # a read-only cache folder only costs the rebuild next time


class FastPerceptronTagger:
    def __init__(self, cache_dir: Path | None = None) -> None:
        """``cache_dir``: where the weight matrix is kept between processes (plain numpy arrays, no
        pickle); building it from NLTK's JSON takes about 0.4 s, loading it a tenth of that."""
        cached = _load_cached(cache_dir) if cache_dir is not None else None
        if cached is None:
            cached = _from_nltk()
            if cache_dir is not None:
                _save_cached(cache_dir, cached)
        features, self.W, classes, tag_words, tag_tags = cached
        self.row = {f: i for i, f in enumerate(features.tolist())}
        self.classes = np.array(classes.tolist(), dtype=object)
        self.tagdict = dict(zip(tag_words.tolist(), tag_tags.tolist()))
        # NLTK's PerceptronTagger.START/END and normalize, which the features are built with.
        from nltk.tag.perceptron import PerceptronTagger

        self.START, self.END = ["-START-", "-START2-"], ["-END-", "-END2-"]
        self.normalize = functools.partial(PerceptronTagger.normalize, None)

    def tag(self, tokens: list[str]) -> list[tuple[str, str]]:
        prev, prev2 = self.START
        context = self.START + [self.normalize(w) for w in tokens] + self.END
        row, W, classes, tagdict = self.row, self.W, self.classes, self.tagdict
        out = []
        for i, word in enumerate(tokens):
            tag = tagdict.get(word)
            if not tag:
                j = i + 2
                keys = (
                    "bias",
                    "i suffix " + word[-3:],
                    "i pref1 " + (word[0] if word else ""),
                    "i-1 tag " + prev,
                    "i-2 tag " + prev2,
                    "i tag+i-2 tag " + prev + " " + prev2,
                    "i word " + context[j],
                    "i-1 tag+i word " + prev + " " + context[j],
                    "i-1 word " + context[j - 1],
                    "i-1 suffix " + context[j - 1][-3:],
                    "i-2 word " + context[j - 2],
                    "i+1 word " + context[j + 1],
                    "i+1 suffix " + context[j + 1][-3:],
                    "i+2 word " + context[j + 2],
                )
                rows = [r for r in map(row.get, keys) if r is not None]
                # "bias" is always a known feature, so rows is never empty.
                scores = W[rows[0]].copy()
                for r in rows[1:]:
                    scores += W[r]  # in feature order, as NLTK sums them
                tag = classes[int(scores.argmax())]
            out.append((word, tag))
            prev2, prev = prev, tag
        return out
