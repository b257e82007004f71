"""The two evaluation protocols and their train/test splits.

``leakage-free`` (default) cleans, deduplicates and splits so that no normalised text is in
both train and test. ``reference`` is the notebook's protocol: raw text, no dedup,
``train_test_split(test_size=0.2, stratify=target, random_state=seed)``.

Which posts go to test: a stratified 80/20 draw of posts by default; of whole groups when the
data has a ``group`` column (authors, threads: scikit-learn's ``StratifiedGroupKFold``, one fold
of five held out, so no group is on both sides); the data's own ``split`` column when it has one
(a benchmark's official split, or a separate test file).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from mhexplain.core.errors import DataError
from mhexplain.core.hashing import sha256_bytes
from mhexplain.datasets.posts import Corpus, build_corpus

PROTOCOLS = ("leakage-free", "reference")
DEFAULT_PROTOCOL = "leakage-free"
DEFAULT_SEED = 42
# numpy's and scikit-learn's seeds (and LIME's and shap's): every seed the project takes is 0 to this.
MAX_SEED = 2**32 - 1
TEST_SIZE = 0.2
GROUP_FOLDS = round(1 / TEST_SIZE)  # one fold of five held out: the same 20% as a row-level split
# Training posts each class needs: LR's grid and the calibration of NB and LR fit five folds,
# stratified by class.
MIN_TRAIN_PER_CLASS = 5


@dataclass
class Split:
    protocol: str
    seed: int
    corpus: Corpus
    train_idx: np.ndarray  # positions into corpus.frame
    test_idx: np.ndarray

    @property
    def train(self) -> pd.DataFrame:
        return self.corpus.frame.iloc[self.train_idx].reset_index(drop=True)

    @property
    def test(self) -> pd.DataFrame:
        return self.corpus.frame.iloc[self.test_idx].reset_index(drop=True)

    @property
    def test_has_train_copy(self) -> np.ndarray:
        """For each test post: does its normalised text also appear in train?"""
        keys = set(self.corpus.frame["key"].iloc[self.train_idx])
        return self.corpus.frame["key"].iloc[self.test_idx].isin(keys).to_numpy()

    @property
    def train_test_overlap(self) -> int:
        """Test posts whose normalised text also appears in train."""
        return int(self.test_has_train_copy.sum())

    @property
    def method(self) -> str:
        frame = self.corpus.frame
        return "fixed" if "split" in frame.columns else "group" if "group" in frame.columns else "stratified"

    def describe(self) -> dict:
        out = {
            "protocol": self.protocol,
            "seed": self.seed,
            "method": self.method,
            "test_size": TEST_SIZE if self.method != "fixed" else None,
            "n_train": int(len(self.train_idx)),
            "n_test": int(len(self.test_idx)),
            "train_test_overlap": self.train_test_overlap,
            "test_post_ids_sha256": _ids_hash(self.corpus.frame["post_id"].iloc[self.test_idx]),
        }
        if "group" in self.corpus.frame.columns:
            out["grouping"] = self.grouping()
        return out

    def grouping(self) -> dict:
        """Groups on both sides of this split (0 for a group split), and what a row-level split of
        the same posts with the same seed would have put on both sides: the leak it avoids."""
        groups = self.corpus.frame["group"].to_numpy()
        tr, te = train_test_split(np.arange(len(groups)), test_size=TEST_SIZE, stratify=self.corpus.targets,
                                  random_state=self.seed)
        return {"groups": int(len(set(groups.tolist()))), **_group_overlap(groups, self.train_idx, self.test_idx),
                "row_level_split": _group_overlap(groups, tr, te)}


def _group_overlap(groups: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray) -> dict:
    """Groups with rows on both sides, and the test rows belonging to them."""
    shared = set(groups[train_idx].tolist()) & set(groups[test_idx].tolist())
    return {"groups_in_both": len(shared), "test_rows_in_shared_groups": int(np.isin(groups[test_idx],
                                                                                     list(shared)).sum())}


def _ids_hash(ids: pd.Series) -> str:
    return sha256_bytes(",".join(map(str, sorted(ids.tolist()))).encode())


def stratified_sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A stratified sample of ``n`` rows (for ``--limit``), keeping the original order; with a
    fixed split, stratified by class and side together, so both sides keep their share."""
    if n >= len(df):
        return df
    strata = df["target"] if "split" not in df.columns else df["target"].astype(str) + "|" + df["split"]
    if n < 2 * strata.nunique():
        raise DataError(f"--limit {n} is too small: need at least two posts per class.")
    idx, _ = train_test_split(np.arange(len(df)), train_size=n, stratify=strata, random_state=seed)
    return df.iloc[np.sort(idx)].reset_index(drop=True)


def make_split(df: pd.DataFrame, labels: tuple[str, ...], protocol: str = DEFAULT_PROTOCOL,
               seed: int = DEFAULT_SEED) -> Split:
    """Clean (per ``protocol``) the dataset frame ``df`` (``datasets.dataset.Dataset.frame``) and split it."""
    if protocol not in PROTOCOLS:
        raise DataError(f"Unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}.")
    corpus = build_corpus(df, dedup=protocol == "leakage-free", clean=protocol == "leakage-free",
                          n_labels=len(labels))
    _check_class_sizes(corpus.targets, labels, fixed="split" in corpus.frame.columns)
    frame = corpus.frame
    if "split" in frame.columns:
        tr, te = np.flatnonzero(frame["split"] == "train"), np.flatnonzero(frame["split"] == "test")
    elif "group" in frame.columns:
        tr, te = _group_split(frame["group"].to_numpy(), corpus.targets, seed)
    else:
        try:
            tr, te = train_test_split(np.arange(len(frame)), test_size=TEST_SIZE, stratify=corpus.targets,
                                      random_state=seed)
        except ValueError as err:
            raise DataError(f"Cannot split the data: {err}") from None
    split = Split(protocol, seed, corpus, np.asarray(tr), np.asarray(te))
    _check_sides(split, labels)
    # Dedup already guarantees this; the check guards against future rule changes (a bug, not bad data).
    if protocol == "leakage-free" and split.train_test_overlap:
        raise RuntimeError("leakage-free split has train/test overlap")
    return split


def _check_class_sizes(y: np.ndarray, labels: tuple[str, ...], fixed: bool) -> None:
    """Enough posts of each class for an 80/20 split to leave MIN_TRAIN_PER_CLASS of them to train
    on and one to test (a fixed split is checked side by side instead, ``_check_sides``)."""
    counts = np.bincount(y, minlength=len(labels))
    if (counts > 0).sum() < 2:
        raise DataError("The data has fewer than two classes after cleaning; nothing to classify.")
    least = math.ceil(MIN_TRAIN_PER_CLASS / (1 - TEST_SIZE))
    if not fixed and counts.min() < least:
        k = int(np.flatnonzero(counts < least)[0])
        raise DataError(f"Class {labels[k]!r} has only {int(counts[k])} post(s) after cleaning; each class needs at "
                        f"least {least} to be split 80/20 ({MIN_TRAIN_PER_CLASS} to train on; add posts, or merge or "
                        "drop the class).")


def _group_split(groups: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One of five stratified folds of whole groups as the test set."""
    n_groups = len(set(groups.tolist()))
    if n_groups < GROUP_FOLDS:
        raise DataError(f"The group column holds {n_groups} groups after cleaning; a group split needs at least "
                        f"{GROUP_FOLDS} to hold out about {TEST_SIZE:.0%} of them.")
    folds = StratifiedGroupKFold(n_splits=GROUP_FOLDS, shuffle=True, random_state=seed)
    tr, te = next(folds.split(np.zeros(len(y)), y, groups))
    return tr, te


def _check_sides(split: Split, labels: tuple[str, ...]) -> None:
    """Every class in training (MIN_TRAIN_PER_CLASS posts: the folds fitted there) and in test."""
    y = split.corpus.targets
    for side, idx, least in (("training", split.train_idx, MIN_TRAIN_PER_CLASS), ("test", split.test_idx, 1)):
        counts = np.bincount(y[idx], minlength=len(labels))
        if counts.min() >= least:
            continue
        k = int(counts.argmin())
        if split.method == "fixed":
            how = ("by the test file or split column (test posts that repeat a training post were dropped: "
                   f"{split.corpus.report.test_copies_of_train_dropped:,})")
            fix = "add posts of that class to that side"
        else:
            how = "by the split of whole groups" if split.method == "group" else "by the 80/20 split"
            fix = "add posts, merge the class" + (", or spread it over more groups" if split.method == "group"
                                                    else "")
        raise DataError(f"Class {labels[k]!r} has {int(counts[k])} post(s) in the {side} set {how}; each class needs "
                        f"{least} or more there ({fix}).")
