"""NLTK's averaged-perceptron POS tagger with its scoring done in numpy.

Same weights, same features, same tie-break, so the tags are NLTK's own (the tests compare
them word for word). NLTK's ``predict`` accumulates scores in a Python dict per feature and
label; here each feature is a row of a weight matrix and a token's scores are one sum of rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def tagger_source() -> Path:
    """The file NLTK's tagger weights come from (a folder or a zip), for cache validation."""
    import nltk

    loc = nltk.data.find("taggers/averaged_perceptron_tagger_eng/")
    return Path(loc.zipfile.filename if hasattr(loc, "zipfile") else loc.path)


def tagger_arrays():
    """NLTK's tagger as plain arrays: feature names, weight matrix, classes, tag dictionary."""
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


TAGGER_ARRAYS = ("features", "W", "classes", "tag_words", "tag_tags")


def normalize(word: str) -> str:
    """NLTK's PerceptronTagger.normalize, which the features are built with."""
    if "-" in word and word[0] != "-":
        return "!HYPHEN"
    if word.isdigit() and len(word) == 4:
        return "!YEAR"
    if word and word[0].isdigit():
        return "!DIGITS"
    return word.lower()


class FastPerceptronTagger:
    def __init__(self, arrays=None) -> None:
        """``arrays``: the weights as ``tagger_arrays()`` gives them (built from NLTK's JSON, about
        0.4 s, when not given; mhexplain.preprocess.nltk_bundle keeps them between processes)."""
        features, self.W, classes, tag_words, tag_tags = arrays if arrays is not None else tagger_arrays()
        self.row = {f: i for i, f in enumerate(features.tolist())}
        self.classes = np.array(classes.tolist(), dtype=object)
        self.tagdict = dict(zip(tag_words.tolist(), tag_tags.tolist()))
        self.START, self.END = ["-START-", "-START2-"], ["-END-", "-END2-"]
        self.normalize = normalize

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
