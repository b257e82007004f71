"""Is a post, or a file of posts, unlike the data a model was trained on?

Calibrated confidence and the abstention guarantee were measured on held-out posts of the training
data; on posts from another source they may not hold. The reference is a model folder's own test
posts (``predictions.csv``: held out, and drawn from the training data), so any model, of any kind,
has one.

How unlike: each post's cosine similarity, in TF-IDF space over the reference's words, to its
nearest reference post. For the reference itself that figure is taken leaving each post out, which
gives the in-domain distribution every other figure is read against:
- per post, ``typicality``: the share of reference posts whose own nearest neighbour is no closer
  than this post's (a held-out in-domain post is spread evenly over 0-1; 0.01 is stranger than 99%);
- per file, a one-sided Mann-Whitney test of the file's similarities against the reference's, with
  its AUC (the chance that a post of the file is less similar to the reference than a reference
  post is to the rest): shift is reported when p < ``ALPHA`` and the AUC reaches ``MIN_AUC``, so a
  file far larger than the reference is not flagged for a difference nobody would notice.
A text representation independent of the model: the same answer for NB, LR and BERT.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

METHOD = ("nearest-neighbour cosine similarity to the model's held-out test posts (TF-IDF over their words), "
          "one-sided Mann-Whitney test against the test posts' own leave-one-out similarities")
ALPHA = 0.01
MIN_AUC = 0.6
# posts of a file compared at once: a block of their similarities to the reference stays small
_BLOCK = 512


def _nearest(x, reference, exclude_self: bool = False) -> np.ndarray:
    """Each row's largest cosine similarity to a reference row (rows are L2-normalised)."""
    out = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], _BLOCK):
        sims = (x[start:start + _BLOCK] @ reference.T).toarray()
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -1.0
        out[start:start + _BLOCK] = sims.max(axis=1)
    return out


@dataclass
class Reference:
    """The in-domain posts a file or a post is compared with."""

    vectorizer: TfidfVectorizer
    matrix: object  # the reference posts' TF-IDF rows (sparse)
    typical: np.ndarray  # each reference post's leave-one-out nearest similarity, sorted

    @classmethod
    def from_texts(cls, texts) -> Reference:
        texts = [str(t) for t in texts]
        if len(texts) < 2:
            raise ValueError("a reference needs at least two posts")
        vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b[^\W\d_]{2,}\b", dtype=np.float32)
        matrix = vectorizer.fit_transform(texts)
        return cls(vectorizer, matrix, np.sort(_nearest(matrix, matrix, exclude_self=True)))

    def similarity(self, texts) -> np.ndarray:
        return _nearest(self.vectorizer.transform([str(t) for t in texts]), self.matrix)

    def typicality(self, similarity: np.ndarray) -> np.ndarray:
        """Per post: the share of reference posts whose nearest neighbour is no closer than its own."""
        return np.searchsorted(self.typical, np.asarray(similarity), side="right") / len(self.typical)

    def test(self, similarity: np.ndarray) -> dict:
        """The file-level verdict on posts with these similarities (``similarity``'s)."""
        from scipy.stats import mannwhitneyu  # scipy's statistics: imported where needed

        sims = np.asarray(similarity, dtype=float)
        if len(sims) == 0:
            return {"detected": False, "method": METHOD, "posts": 0, "reason": "no post to compare"}
        u, p = mannwhitneyu(sims, self.typical, alternative="less")
        auc = 1.0 - float(u) / (len(sims) * len(self.typical))
        typicality = self.typicality(sims)
        return {"detected": bool(p < ALPHA and auc >= MIN_AUC), "method": METHOD, "posts": int(len(sims)),
                "auc": auc, "p_value": float(p), "alpha": ALPHA, "min_auc": MIN_AUC,
                "median_similarity": float(np.median(sims)),
                "reference": {"posts": int(len(self.typical)), "median_similarity": float(np.median(self.typical))},
                # under no shift about 5% of posts fall below the reference's 5th percentile
                "share_below_reference_5th_percentile": float((typicality < 0.05).mean())}


SHIFT_WARNING = ("these posts are unlike the data the models were trained on: their calibrated confidence and the "
                 "abstention target were measured on posts like the training data and may not hold here")
