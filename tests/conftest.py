import os
from pathlib import Path

import pytest

from .helpers import SHARED, synthetic_posts

if "NLTK_DATA" not in os.environ and (SHARED / "nltk_data").is_dir():
    os.environ["NLTK_DATA"] = str(SHARED / "nltk_data")
os.environ.setdefault("MHX_NO_NLTK_DOWNLOAD", "1")


@pytest.fixture(scope="session")
def fixture_csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("data") / "posts.csv"
    synthetic_posts().to_csv(p, index=False)
    return p


@pytest.fixture(scope="session")
def trained_dir(fixture_csv, tmp_path_factory) -> Path:
    """NB and LR trained once per test session on the fixture CSV."""
    from mhexplain.cli.train import main

    out = tmp_path_factory.mktemp("models")
    cache = tmp_path_factory.mktemp("cache")
    rc = main(["--data", str(fixture_csv), "--out", str(out), "--cache-dir", str(cache), "--jobs", "1"])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    from .bert_fixtures import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def three_models_dir(tiny_encoder, fixture_csv, tmp_path_factory) -> Path:
    """NB, LR and a tiny random-init BERT (a few steps) trained on the fixture CSV."""
    from mhexplain.cli.train import main

    out = tmp_path_factory.mktemp("three-models")
    rc = main(["--data", str(fixture_csv), "--out", str(out), "--models", "nb,lr,bert", "--jobs", "1",
               "--cache-dir", str(out / ".cache"), "--bert-model", str(tiny_encoder), "--epochs", "2",
               "--max-steps", "22", "--max-length", "32", "--stride", "8", "--batch-size", "8"])
    assert rc == 0
    return out


def pytest_sessionstart(session):
    """Without NLTK's data most tests cannot run: say so once, in NLTK's own one line, and stop."""
    from mhexplain.core.errors import NltkDataError
    from mhexplain.preprocess.nltk_resources import ensure_nltk_data

    try:
        ensure_nltk_data()
    except NltkDataError as err:
        pytest.exit(f"cannot run the tests: {err}", returncode=2)
