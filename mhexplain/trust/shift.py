"""Is a post, or a file of posts, unlike the data a model was trained on?

Calibrated confidence and the abstention guarantee were measured on held-out posts of the training
data; on posts from another source they may not hold. The reference is a model folder's own test
posts (``predictions.csv``: held out, and drawn from the training data), so any model, of any kind,
has one. Posts are read as TF-IDF over their words, independently of the model: the same answer
for NB, LR and BERT.

A file: a classifier two-sample test (Lopez-Paz & Oquab 2017). A logistic regression learns, on
half of the posts, to tell the file's posts (up to ``MAX_TEST_POSTS``, drawn at random) from the
reference's; on the other half its scores give an AUC, 0.5 when the two cannot be told apart,
and a one-sided Mann-Whitney p-value. The reference posts it sees are drawn in the proportions
in which the model predicts the file's classes (the reference model's predicted class of each
post on both sides): a file of one forum's posts holds one class, and its words would tell it
from the balanced test posts (AUC 0.8 for any one class of the Kaggle training posts) although
nothing about it is new; matched, those files are not flagged. Shift is reported when p < ``ALPHA`` and the AUC reaches
``MIN_AUC`` (0.7, "acceptable discrimination" in Hosmer & Lemeshow's terms), so that a large file
is not flagged for a difference nobody would notice: posts from new authors or new threads of the
same forum differ a little (a group split's test posts reach about 0.6 against its training
posts), another forum or genre differs a lot (0.98 and above, docs/BENCHMARKS.md).

A post: its cosine similarity (TF-IDF) to its nearest reference post, read against the reference posts'
own leave-one-out nearest similarities: ``typicality`` is the share of reference posts whose
nearest neighbour is no closer than this post's (a held-out in-domain post is spread evenly over
0-1; 0.01 is stranger than 99% of them). Per post it is a warning sign, not a test: short posts
share fewer words, so one from the training source can look strange, and one from elsewhere that
happens to share a word can look typical; the file-level test is the one to read.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

FILE_METHOD = ("classifier two-sample test: a logistic regression on TF-IDF, fitted on half the posts and the model's "
               "held-out test posts (drawn in the posts' predicted-class shares), tells them apart on the other half; "
               "its AUC there, and a one-sided Mann-Whitney test on those scores")
POST_METHOD = ("nearest-neighbour cosine similarity (TF-IDF) to the model's held-out test posts, read against "
               "their own leave-one-out similarities")
ALPHA = 0.01
MIN_AUC = 0.7
MAX_TEST_POSTS = 2000  # from each side: the test takes about a second on 2 cores
MIN_TEST_POSTS = 20  # fewer leave the classifier's two halves too few posts to tell anything apart
TOKENS = r"(?u)\b[^\W\d_]{2,}\b"  # words of letters: numbers and ids say nothing about the source
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


class Sample:
    """A uniform random sample of at most ``size`` posts, each with the class the reference's model
    predicts for it, from a stream of them (reservoir sampling): the same for the same stream and seed."""

    def __init__(self, size: int = MAX_TEST_POSTS, seed: int = 0) -> None:
        self.size, self.seen, self.posts, self.classes = size, 0, [], []
        self._rng = np.random.default_rng(seed)

    def add(self, posts, classes) -> None:
        for post, cls in zip(posts, classes, strict=True):  # lazily: a file's posts stream through
            if len(self.posts) < self.size:
                self.posts.append(post)
                self.classes.append(int(cls))
            else:
                k = int(self._rng.integers(0, self.seen + 1))
                if k < self.size:
                    self.posts[k], self.classes[k] = post, int(cls)
            self.seen += 1


def matched_reference(classes, wanted, rng: np.random.Generator) -> np.ndarray:
    """Indexes of reference posts drawn so that their classes come in the shares ``wanted``'s
    classes have: as many as the reference can give in those shares (at most ``MAX_TEST_POSTS``).
    A class the reference lacks is left out of both (``two_sample_test`` drops its posts)."""
    classes, wanted = np.asarray(classes, dtype=int), np.asarray(wanted, dtype=int)
    n_classes = max(classes.max(initial=-1), wanted.max(initial=-1)) + 1
    pools = [np.flatnonzero(classes == c) for c in range(n_classes)]
    counts = np.bincount(wanted[np.isin(wanted, np.unique(classes))], minlength=n_classes)
    if not counts.sum():
        return np.zeros(0, dtype=int)
    shares = counts / counts.sum()
    # the largest sample whose every share the reference's posts of that class can fill
    total = min([len(classes), MAX_TEST_POSTS] + [len(pools[c]) / shares[c] for c in range(n_classes) if shares[c]])
    picked = [rng.permutation(pools[c])[:min(len(pools[c]), int(round(shares[c] * total)))]
              for c in range(n_classes) if shares[c]]
    return np.sort(np.concatenate(picked))


def two_sample_test(reference: list[str], reference_classes, posts: list[str], classes, seed: int = 0) -> dict:
    """Can a classifier tell ``posts`` from ``reference`` drawn in the shares of ``posts``' predicted
    ``classes``? Fitted on half of both (stratified, seeded), its AUC on the other half and a
    one-sided Mann-Whitney p-value there: scores of posts the classifier never saw, so the test is
    exact under no shift (pooled cross-validated scores are not independent, and made p too small)."""
    from scipy.stats import mannwhitneyu  # scipy's statistics: imported where needed

    rng = np.random.default_rng(seed)
    known = np.isin(np.asarray(classes, dtype=int), np.asarray(reference_classes, dtype=int))
    matched = matched_reference(reference_classes, classes, rng)
    extra = {"class_matched": True}
    if len(matched) >= MIN_TEST_POSTS // 2 and known.sum() >= MIN_TEST_POSTS // 2:
        posts = [p for p, k in zip(posts, known) if k]
        extra |= {"posts_left_out": int((~known).sum())} if (~known).any() else {}
    else:  # a small reference with few posts of the classes predicted here: compared as it is, and said so
        matched = np.sort(rng.permutation(len(reference))[:MAX_TEST_POSTS])
        extra = {"class_matched": False, "note": UNMATCHED}
    ref = [reference[i] for i in matched]
    texts = np.array(ref + list(posts), dtype=object)
    y = np.r_[np.zeros(len(ref)), np.ones(len(posts))]
    fit, held = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
    clf = make_pipeline(TfidfVectorizer(sublinear_tf=True, token_pattern=TOKENS, dtype=np.float32),
                        LogisticRegression(class_weight="balanced", max_iter=1000))
    try:
        clf.fit(texts[fit], y[fit])
        scores = clf.predict_proba(texts[held])[:, 1]
    except ValueError:  # posts that hold no word: nothing tells them apart
        scores = np.full(len(held), 0.5)
    truth = y[held]
    auc = float(roc_auc_score(truth, scores))
    p = float(mannwhitneyu(scores[truth == 1], scores[truth == 0], alternative="greater").pvalue)
    return {"auc": auc, "p_value": p, "reference_posts_compared": len(ref), "posts_scored": int(len(held)), **extra}


@dataclass
class Reference:
    """The in-domain posts a file or a post is compared with, and the class ``model`` predicts for each."""

    texts: list[str]
    classes: np.ndarray
    model: str
    vectorizer: TfidfVectorizer
    matrix: object  # the reference posts' TF-IDF rows (sparse)
    typical: np.ndarray  # each reference post's leave-one-out nearest similarity, sorted

    @classmethod
    def from_texts(cls, texts, classes, model: str) -> Reference:
        texts = [str(t) for t in texts]
        if len(texts) < 2:
            raise ValueError("a reference needs at least two posts")
        # Stop words are kept: leaving them out halves the similarity product's time but lets
        # sentences from other sources pass as typical (NYT sentences: 41% flagged against 16%)
        vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=TOKENS, dtype=np.float32)
        matrix = vectorizer.fit_transform(texts)
        return cls(texts, np.asarray(classes, dtype=int), model, vectorizer, matrix,
                   np.sort(_nearest(matrix, matrix, exclude_self=True)))

    def similarity(self, texts) -> np.ndarray:
        return _nearest(self.vectorizer.transform([str(t) for t in texts]), self.matrix)

    def typicality(self, similarity: np.ndarray) -> np.ndarray:
        """Per post: the share of reference posts whose nearest neighbour is no closer than its own."""
        return np.searchsorted(self.typical, np.asarray(similarity), side="right") / len(self.typical)

    def test(self, sample: Sample, similarity: np.ndarray | None = None, seed: int = 0) -> dict:
        """The file-level verdict on a file whose posts are ``sample`` (``Sample``); ``similarity``:
        every post's (``similarity``), for the share of strange posts."""
        # every post's similarity counts them all (the sample may come from one process's share)
        seen = len(similarity) if similarity is not None else sample.seen
        posts = {"detected": False, "method": FILE_METHOD, "posts": int(seen),
                 "posts_compared": len(sample.posts), "alpha": ALPHA, "min_auc": MIN_AUC,
                 "reference": {"posts": len(self.texts), "classes_predicted_by": self.model}}
        if similarity is not None and len(similarity):
            typicality = self.typicality(similarity)
            # under no shift about 5% of posts fall below the reference's 5th percentile
            posts["share_below_reference_5th_percentile"] = float((typicality < 0.05).mean())
            posts["post_method"] = POST_METHOD
        if len(sample.posts) < MIN_TEST_POSTS:
            return {**posts, "reason": f"{len(sample.posts)} post(s) with text: at least {MIN_TEST_POSTS} are needed "
                                       "to test a file (each post's typicality is still given)"}
        found = two_sample_test(self.texts, self.classes, sample.posts, sample.classes, seed)
        return {**posts, **found, "detected": bool(found["p_value"] < ALPHA and found["auc"] >= MIN_AUC)}


UNMATCHED = ("the models' held-out posts hold too few posts of the classes predicted here to draw them in the same "
             "shares, so they were compared as they are: a file of fewer classes than the training data may be "
             "flagged for that alone")
SHIFT_WARNING = ("these posts are unlike the data the models were trained on: their calibrated confidence and the "
                 "abstention target were measured on posts like the training data and may not hold here")
