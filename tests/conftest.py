import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts.folder import proba_column
from mhexplain.cli.train import main as train_cli
from mhexplain.core.errors import NltkDataError
from mhexplain.datasets.dataset import KAGGLE_LABELS
from mhexplain.evaluation.compare import ModelResults
from mhexplain.preprocess.nltk_resources import ensure_nltk_data

from .bert_fixtures import make_tiny_bert
from .helpers import SHARED, labelled_posts, synthetic_posts

if "NLTK_DATA" not in os.environ and (SHARED / "nltk_data").is_dir():
    os.environ["NLTK_DATA"] = str(SHARED / "nltk_data")
os.environ.setdefault("MHX_NO_NLTK_DOWNLOAD", "1")

# The tests marked `slow` (the marker is declared in pyproject.toml; `make test-fast` runs the
# others). Marked here, by module, by fixture (so that a new test using a slow fixture is marked
# too) and, for a few, by name. What makes each slow, measured with `pytest --durations` on a
# 2-core machine:
SLOW_MODULES = {
    # a `streamlit run` server per test and Chromium driving it: about 45 s
    "test_e2e_browser.py": "starts the app and a browser",
    # trains NB and LR on the whole real dataset, under both protocols: about 40 s
    "test_real_data.py": "trains on the real dataset",
    # fine-tunes BERT in two processes under accelerate, in bf16, and waits out hub timeouts: about 75 s
    "test_bert_scale.py": "fine-tunes BERT at scale",
}
SLOW_FIXTURES = {
    # fine-tunes a tiny BERT beside NB and LR (about 7 s, once), and the tests using it load torch
    # and run BERT through the app's pages, explanations and CLIs (about 60 s in all)
    "three_models_dir": "uses a fine-tuned BERT",
}
SLOW_TESTS = {
    # starts `accelerate launch` with two scoring processes: about 10 s
    "test_score.py::test_two_processes_write_what_one_does": "two processes under accelerate",
    # 12 and 5 runs of `python -m train` in a fresh process, about 1.4 s each
    "test_train.py::test_bad_data_one_line_error_and_nothing_written": "a train process per case",
    "test_train.py::test_unusable_outputs_are_refused_before_any_work": "a train process per case",
    # fine-tunes a tiny BERT on the binary dataset: about 10 s, and loads torch
    "test_byo_dataset.py::test_bert_takes_its_labels_from_the_dataset": "fine-tunes BERT",
}


def slow_reason(item: pytest.Item) -> str | None:
    """Why ``item`` belongs to the slow subset, or None. ``fixturenames`` holds every fixture the
    test uses, the ones its fixtures use included."""
    module = Path(str(item.fspath)).name
    why = SLOW_MODULES.get(module) or SLOW_TESTS.get(f"{module}::{getattr(item, 'originalname', item.name)}")
    return why or next((why for name, why in SLOW_FIXTURES.items() if name in item.fixturenames), None)


def pytest_collection_modifyitems(config, items):
    for item in items:
        why = slow_reason(item)
        if why:
            item.add_marker(pytest.mark.slow(reason=why))


@pytest.fixture(scope="session")
def fixture_csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("data") / "posts.csv"
    synthetic_posts().to_csv(p, index=False)
    return p


@pytest.fixture(scope="session")
def trained_dir(fixture_csv, tmp_path_factory) -> Path:
    """NB and LR trained once per test session on the fixture CSV."""
    out = tmp_path_factory.mktemp("models")
    cache = tmp_path_factory.mktemp("cache")
    rc = train_cli(["--data", str(fixture_csv), "--out", str(out), "--cache-dir", str(cache), "--jobs", "1"])
    assert rc == 0
    return out


BINARY_LABELS = ("no risk", "at risk")
MANY_LABELS = ("art", "biology", "chess", "dance", "economics", "film", "gardening", "history", "islands",
               "jazz", "knitting", "law", "music", "nursing", "opera", "poetry", "quilting", "rowing", "sailing",
               "tennis")
CODERS = ("coder_a", "coder_b", "coder_c")


def with_coders(df, labels, label_col: str = "label", seed: int = 0):
    """Three coders who agree with ``label_col`` most of the time and leave a few posts uncoded."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for k, coder in enumerate(CODERS):
        flip = rng.random(len(df)) < 0.1 + 0.05 * k
        other = [labels[(labels.index(v) + 1) % len(labels)] for v in df[label_col]]
        out[coder] = np.where(flip, other, df[label_col])
        out.loc[rng.random(len(df)) < 0.05, coder] = ""
    return out


@pytest.fixture(scope="session")
def binary_csv(tmp_path_factory) -> Path:
    """A binary dataset in its own columns: body, headline, label ("no risk"/"at risk"), author
    (three posts each) and three coders' labels."""
    p = tmp_path_factory.mktemp("binary") / "risk.csv"
    with_coders(labelled_posts(BINARY_LABELS, per_class=45, title_col="headline", group_col="author"),
                BINARY_LABELS).to_csv(p, index=False)
    return p


BINARY_ARGS = ("--text-col", "body", "--title-col", "headline", "--label-col", "label", "--labels", "no risk,at risk",
               "--group-col", "author", "--coder-cols", ",".join(CODERS))


@pytest.fixture(scope="session")
def binary_dir(binary_csv, tmp_path_factory) -> Path:
    """NB and LR trained on the binary dataset, split by author, with coder agreement."""
    out = tmp_path_factory.mktemp("binary-models")
    rc = train_cli(["--data", str(binary_csv), "--out", str(out), "--cache-dir", str(out / ".cache"), "--jobs", "1",
                    *BINARY_ARGS])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def many_csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("many") / "topics.csv"
    labelled_posts(MANY_LABELS, per_class=15).to_csv(p, index=False)
    return p


@pytest.fixture(scope="session")
def many_dir(many_csv, tmp_path_factory) -> Path:
    """NB and LR trained on a 20-class dataset (labels sorted from the column)."""
    out = tmp_path_factory.mktemp("many-models")
    rc = train_cli(["--data", str(many_csv), "--out", str(out), "--cache-dir", str(out / ".cache"), "--jobs", "1",
                    "--text-col", "body", "--label-col", "label"])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def three_models_dir(tiny_encoder, fixture_csv, tmp_path_factory) -> Path:
    """NB, LR and a tiny random-init BERT (a few steps) trained on the fixture CSV."""
    out = tmp_path_factory.mktemp("three-models")
    rc = train_cli(["--data", str(fixture_csv), "--out", str(out), "--models", "nb,lr,bert", "--jobs", "1",
                    "--cache-dir", str(out / ".cache"), "--bert-model", str(tiny_encoder), "--epochs", "2",
                    "--max-steps", "22", "--max-length", "32", "--stride", "8", "--batch-size", "8"])
    assert rc == 0
    return out


@pytest.fixture
def results_from_labels():
    """Builds a model's test results from labels alone: ``build(name, y, pred)`` gives a
    ModelResults for posts 0..n-1 whose true labels are ``y`` and that the model predicted as
    ``pred``, each with probability 1. For comparisons whose answer is known by hand."""

    def build(name: str, y, pred) -> ModelResults:
        y, pred = np.asarray(y), np.asarray(pred)
        predictions = pd.DataFrame({"post_id": np.arange(len(y)), "text": [f"post {i}" for i in range(len(y))],
                                    "true_label": y, "pred_label": pred})
        for c, label in enumerate(KAGGLE_LABELS):
            predictions[proba_column(label)] = (pred == c).astype(float)
        return ModelResults(name, {}, predictions, {"name": name, "labels": list(KAGGLE_LABELS)})

    return build


def pytest_sessionstart(session):
    """Without NLTK's data most tests cannot run: say so once, in NLTK's own one line, and stop."""
    try:
        ensure_nltk_data()
    except NltkDataError as err:
        pytest.exit(f"cannot run the tests: {err}", returncode=2)


# On the noisy fixture posts LR scores better than the n-gram model on the held-out posts, so the
# cascade that has posts to route asks LR second.
FIRST, SECOND = "ngram", "lr"
COMBINE = ["--cascade-members", f"{FIRST},{SECOND}", "--ensemble-members", "lr,ngram"]


@pytest.fixture(scope="session")
def noisy_csv(tmp_path_factory):
    """The fixture posts with a quarter of the labels drawn at random: models that are unsure of
    some posts, so that a cascade has posts to route."""
    df = synthetic_posts(per_class=50, seed=5)
    rng = np.random.default_rng(5)
    flip = rng.random(len(df)) < 0.25
    df.loc[flip, "target"] = rng.integers(0, 5, int(flip.sum()))
    path = tmp_path_factory.mktemp("noisy") / "posts.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def combined_dir(noisy_csv, tmp_path_factory):
    """LR and the n-gram model trained with a cascade and an ensemble of the two, in one run."""
    out = tmp_path_factory.mktemp("combined-models")
    assert train_cli(["--data", str(noisy_csv), "--out", str(out), "--jobs", "1", "--cache-dir", str(out / ".cache"),
                      "--models", "lr,ngram,cascade,ensemble", *COMBINE]) == 0
    return out
