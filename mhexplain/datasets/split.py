"""The two evaluation protocols and their train/test splits.

``leakage-free`` (default) cleans, deduplicates and splits so that no normalised text is in
both train and test. ``reference`` is the notebook's protocol: raw text, no dedup,
``train_test_split(test_size=0.2, stratify=target, random_state=seed)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mhexplain.core.errors import DataError
from mhexplain.core.hashing import sha256_bytes
from mhexplain.datasets.posts import Corpus, build_corpus

PROTOCOLS = ("leakage-free", "reference")
DEFAULT_PROTOCOL = "leakage-free"
DEFAULT_SEED = 42
# numpy's and scikit-learn's seeds (and LIME's and shap's): every seed the project takes is 0 to this.
MAX_SEED = 2**32 - 1
TEST_SIZE = 0.2


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

    def describe(self) -> dict:
        return {
            "protocol": self.protocol,
            "seed": self.seed,
            "test_size": TEST_SIZE,
            "n_train": int(len(self.train_idx)),
            "n_test": int(len(self.test_idx)),
            "train_test_overlap": self.train_test_overlap,
            "test_post_ids_sha256": _ids_hash(self.corpus.frame["post_id"].iloc[self.test_idx]),
        }


def _ids_hash(ids: pd.Series) -> str:
    return sha256_bytes(",".join(map(str, sorted(ids.tolist()))).encode())


def stratified_sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A stratified sample of ``n`` rows (for ``--limit``), keeping the original order."""
    if n >= len(df):
        return df
    if n < 2 * df["target"].nunique():
        raise DataError(f"--limit {n} is too small: need at least two posts per class.")
    idx, _ = train_test_split(np.arange(len(df)), train_size=n, stratify=df["target"], random_state=seed)
    return df.iloc[np.sort(idx)].reset_index(drop=True)


def make_split(df: pd.DataFrame, protocol: str = DEFAULT_PROTOCOL, seed: int = DEFAULT_SEED) -> Split:
    if protocol not in PROTOCOLS:
        raise DataError(f"Unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}.")
    corpus = build_corpus(df, dedup=protocol == "leakage-free", clean=protocol == "leakage-free")
    y = corpus.targets
    counts = np.bincount(y, minlength=int(y.max()) + 1 if len(y) else 0)
    present = counts[counts > 0]
    if len(present) < 2:
        raise DataError("The data has fewer than two classes; nothing to classify.")
    if present.min() < 5:
        cls = int(np.flatnonzero((counts > 0) & (counts < 5))[0])
        raise DataError(
            f"Class {cls} has only {int(counts[cls])} post(s) after cleaning; "
            "each class needs at least 5 to be split 80/20."
        )
    idx = np.arange(len(y))
    try:
        tr, te = train_test_split(idx, test_size=TEST_SIZE, stratify=y, random_state=seed)
    except ValueError as err:
        raise DataError(f"Cannot split the data: {err}") from None
    # Dedup already guarantees this; the check guards against future rule changes (a bug, not bad data).
    split = Split(protocol, seed, corpus, np.asarray(tr), np.asarray(te))
    if protocol == "leakage-free" and split.train_test_overlap:
        raise RuntimeError("leakage-free split has train/test overlap")
    return split
