"""Helpers the tests share: synthetic posts, paths, re-scoring a saved model, the real dataset."""
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

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
    from mhexplain.artifacts.registry import load_classifier

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


def class_word(k: int, j: int) -> str:
    """A made-up word of letters only (preprocessing drops digits), distinct for each (k, j)."""
    letters = "bcdfghjklmnprstvz"
    out, n = [], k * 8 + j
    while True:
        out.append(letters[n % len(letters)] + "aeiou"[n // len(letters) % 5])
        n //= len(letters) * 5
        if not n:
            break
    return "zo" + "".join(out) + "x"


def labelled_posts(labels, per_class: int = 30, seed: int = 0, text_col: str = "body", label_col: str = "label",
                   title_col: str | None = None, group_col: str | None = None, per_group: int = 3) -> pd.DataFrame:
    """Posts for any label set, in columns named as asked: each class has its own made-up words,
    mixed into filler; with ``group_col``, ``per_group`` consecutive posts of a class share a group
    (an author with several posts)."""
    rng = random.Random(seed)
    rows = []
    for k, label in enumerate(labels):
        words = [class_word(k, j) for j in range(8)]
        for i in range(per_class):
            body = " ".join(rng.choice(words if rng.random() < 0.08 else FILLER) for _ in range(rng.randint(12, 40)))
            row = {text_col: f"{body} number {k} {i}", label_col: label}
            if title_col:
                row[title_col] = f"{rng.choice(words)} title"
            if group_col:
                row[group_col] = f"author-{k}-{i // per_group}"
            rows.append(row)
    return pd.DataFrame(rows).sample(frac=1, random_state=seed).reset_index(drop=True)


def read_kaggle(source, name: str = "posts.csv") -> pd.DataFrame:
    """A Kaggle-format file (a path, or CSV bytes) read as training reads it, with the preset's columns."""
    from mhexplain.datasets.dataset import DatasetSpec, parse_dataset, read_dataset

    if isinstance(source, bytes):
        return parse_dataset(source, name, DatasetSpec()).frame
    return read_dataset(source, DatasetSpec()).frame


def real_csv() -> Path | None:
    """The Kaggle CSV where ``python -m train`` finds it (mhexplain.settings.dataset_path: MHX_DATA,
    data/ in the project, or ../shared/data beside it); None when there is no file there."""
    from mhexplain.settings import dataset_path

    found = dataset_path()
    return found if found is not None and found.is_file() else None


def real_csv_or_skip() -> Path:
    found = real_csv()
    if found is None:
        pytest.skip("real dataset not found (set MHX_DATA, or put it at data/ or ../shared/data/)")
    return found


def noisy_source(path, n: int = 240, noise: float = 0.5, seed: int = 21):
    """Posts like the training posts whose labels are right only part of the time: a source where
    the models' in-domain confidence is too high."""
    df = synthetic_posts(per_class=n // 5, seed=seed)
    df = df[df["text"].str.len() > 0].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(df)) < noise
    df.loc[flip, "target"] = rng.integers(0, 5, flip.sum())
    df[["title", "text", "target"]].to_csv(path, index=False)
    return path
