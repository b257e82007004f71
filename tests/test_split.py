import numpy as np
import pytest

from mhexplain.core.errors import DataError
from mhexplain.datasets.dataset import KAGGLE_LABELS
from mhexplain.datasets.split import make_split, stratified_sample

from .helpers import read_kaggle, real_csv_or_skip


def test_leakage_free_split_has_no_shared_text(fixture_csv):
    df = read_kaggle(fixture_csv)
    s = make_split(df, KAGGLE_LABELS, "leakage-free", seed=3)
    assert s.train_test_overlap == 0
    assert set(s.train["key"]).isdisjoint(s.test["key"])
    assert set(s.train["post_id"]).isdisjoint(s.test["post_id"])


def test_split_is_deterministic_and_seed_dependent(fixture_csv):
    df = read_kaggle(fixture_csv)
    a, b, c = make_split(df, KAGGLE_LABELS, seed=1), make_split(df, KAGGLE_LABELS, seed=1), make_split(df, KAGGLE_LABELS, seed=2)
    assert a.test["post_id"].tolist() == b.test["post_id"].tolist()
    assert a.test["post_id"].tolist() != c.test["post_id"].tolist()
    assert a.describe()["test_post_ids_sha256"] == b.describe()["test_post_ids_sha256"]


def test_split_is_stratified(fixture_csv):
    s = make_split(read_kaggle(fixture_csv), KAGGLE_LABELS, seed=0)
    counts = np.bincount(s.test["target"], minlength=5)
    assert counts.max() - counts.min() <= 1


def test_class_too_small_to_split(fixture_csv):
    df = read_kaggle(fixture_csv)
    small = df[(df["target"] != 4) | (df.index.isin(df.index[df["target"] == 4][:3]))]
    with pytest.raises(DataError, match="Class 'anxiety' has only 3"):
        make_split(small, KAGGLE_LABELS)


def test_unknown_protocol(fixture_csv):
    with pytest.raises(DataError, match="Unknown protocol"):
        make_split(read_kaggle(fixture_csv), KAGGLE_LABELS, "random")


def test_stratified_sample_keeps_every_class(fixture_csv):
    df = read_kaggle(fixture_csv)
    sub = stratified_sample(df, 60, seed=0)
    assert len(sub) == 60 and sub["target"].nunique() == 5


def test_real_data_split_sizes_and_leak():
    df = read_kaggle(real_csv_or_skip())
    ref = make_split(df, KAGGLE_LABELS, "reference", 42)
    assert (len(ref.train_idx), len(ref.test_idx)) == (4765, 1192)
    assert ref.train_test_overlap == 410
    free = make_split(df, KAGGLE_LABELS, "leakage-free", 42)
    assert free.train_test_overlap == 0
    r = free.corpus.report
    assert (r.empty_bodies, r.html_entity_bodies) == (350, 215)
    assert 1200 <= r.duplicate_copies_dropped <= 1300
