import os
import random
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_CSV = SHARED / "data" / "data_to_be_cleansed.csv"

if "NLTK_DATA" not in os.environ and (SHARED / "nltk_data").is_dir():
    os.environ["NLTK_DATA"] = str(SHARED / "nltk_data")
os.environ.setdefault("MHX_NO_NLTK_DOWNLOAD", "1")

CLASS_WORDS = {
    0: ["stress", "deadline", "pressure", "overwhelmed", "work", "exams", "boss", "tired"],
    1: ["depressed", "hopeless", "empty", "sad", "crying", "worthless", "numb", "alone"],
    2: ["bipolar", "manic", "mania", "lithium", "episode", "mood", "swings", "hypomanic"],
    3: ["avoidant", "rejection", "social", "friends", "lonely", "criticism", "shy", "avpd"],
    4: ["anxiety", "panic", "attack", "worried", "heart", "racing", "nervous", "fear"],
}
FILLER = ["i", "feel", "really", "today", "my", "life", "and", "the", "was", "so", "have", "been"]


def rescore(model_dir: Path):
    """Reload a saved model and score its test posts again: (model, fresh probabilities, saved ones, saved rows)."""
    from mhexplain.registry import load_classifier

    preds = pd.read_csv(model_dir / "predictions.csv", keep_default_na=False)
    clf = load_classifier(model_dir)
    proba = clf.predict_proba(preds["text"].tolist())
    saved = preds[[c for c in preds.columns if c.startswith("p_")]].to_numpy()
    return clf, proba, saved, preds


def synthetic_posts(per_class: int = 40, seed: int = 0) -> pd.DataFrame:
    """Posts whose class is readable from their words, plus the dataset's known dirt."""
    rng = random.Random(seed)
    rows = []
    for label, words in CLASS_WORDS.items():
        for i in range(per_class):
            body = " ".join(rng.choice(words if rng.random() < 0.12 else FILLER) for _ in range(rng.randint(12, 40)))
            title = f"{rng.choice(words).title()} post {i}"
            if i == 0:
                body = body + " &amp; more &#x200B;"
            if i == 1:
                body = ""  # title-only post
            rows.append({"text": body, "title": title, "target": label})
    # a verbatim duplicate and a text carrying two labels
    rows.append(dict(rows[5]))
    rows.append({"text": "same words under two labels", "title": "Conflict", "target": 0})
    rows.append({"text": "same words under two labels", "title": "Conflict", "target": 1})
    rows.append({"text": "", "title": "True", "target": 2})
    df = pd.DataFrame(rows)
    df.insert(0, "", range(len(df)))
    return df


@pytest.fixture(scope="session")
def fixture_csv(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("data") / "posts.csv"
    synthetic_posts().to_csv(p, index=False)
    return p


@pytest.fixture(scope="session")
def trained_dir(fixture_csv, tmp_path_factory) -> Path:
    """NB and LR trained once per test session on the fixture CSV."""
    from train.__main__ import main

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
    from train.__main__ import main

    out = tmp_path_factory.mktemp("three-models")
    rc = main(["--data", str(fixture_csv), "--out", str(out), "--models", "nb,lr,bert", "--jobs", "1",
               "--cache-dir", str(out / ".cache"), "--bert-model", str(tiny_encoder), "--epochs", "2",
               "--max-steps", "22", "--max-length", "32", "--stride", "8", "--batch-size", "8"])
    assert rc == 0
    return out


def real_csv_or_skip() -> Path:
    if not REAL_CSV.is_file():
        pytest.skip(f"real dataset not present at {REAL_CSV}")
    return REAL_CSV
