"""Posts as the models read them, and the cleaned, deduplicated corpus a split is drawn from.

A post's model input is its title and text, cleaned and joined (``post_text``); a dataset
without titles has an empty title. Reading files under any columns is ``datasets.dataset``.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Zero-width and BOM characters show up as "&#x200B;" in Reddit markdown.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_WS = re.compile(r"\s+")


def clean_text(s: str) -> str:
    """Unescape HTML entities (twice: Reddit exports hold '&amp;#x200B;'), drop zero-width chars, trim."""
    s = html.unescape(html.unescape(s))
    s = _ZERO_WIDTH.sub("", s)
    return s.replace("\xa0", " ").strip()


def join_post(title: str, text: str) -> str:
    return f"{title} {text}"


def post_text(title: str, text: str) -> str:
    """A post as the models read it: title and text cleaned and joined (training does this too)."""
    return join_post(clean_text(str(title)), clean_text(str(text))).strip()


def normalise_key(s: str) -> str:
    """Duplicate-detection key: casefolded, whitespace collapsed."""
    return _WS.sub(" ", s.casefold()).strip()


@dataclass
class CleanReport:
    rows_read: int = 0
    empty_bodies: int = 0
    html_entity_bodies: int = 0
    empty_posts_dropped: int = 0
    duplicate_copies_dropped: int = 0
    conflicting_label_texts: int = 0
    conflicting_label_rows_dropped: int = 0
    test_copies_of_train_dropped: int = 0  # with a fixed split: test posts that repeat a training post
    rows_kept: int = 0
    posts_per_class: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items()}


@dataclass
class Corpus:
    """Posts ready for splitting. ``post_id`` is the post's row number in the source CSV, 0-based
    and counted from the first row after the header (spreadsheet row ``post_id + 2``), whatever
    sample of the rows was taken: a model trained on a ``--limit`` sample names its posts as a
    model trained on every row does."""

    frame: pd.DataFrame  # columns: post_id, input (model text), key, target
    report: CleanReport = field(default_factory=CleanReport)

    @property
    def texts(self) -> list[str]:
        return self.frame["input"].tolist()

    @property
    def targets(self) -> np.ndarray:
        return self.frame["target"].to_numpy()


_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def _source_rows(df: pd.DataFrame) -> np.ndarray:
    """Each post's 0-based row in its CSV (see ``Corpus``); a frame built in memory, with no
    ``row`` column from a reader, counts its own rows."""
    if "row" not in df.columns:
        return np.arange(len(df))
    return df["row"].to_numpy(dtype=int) - 2


# Columns a dataset may carry beside its posts, passed through cleaning to the split.
PASSED_THROUGH = ("group", "split")


def build_corpus(df: pd.DataFrame, dedup: bool, clean: bool, n_labels: int) -> Corpus:
    """Turn a dataset's frame (``datasets.dataset.Dataset.frame``) into model inputs.

    ``dedup`` keeps one copy of each same-label duplicate (by normalised key) and drops every
    copy of a text carrying more than one label; with a fixed split (a ``split`` column) the
    training copy is the one kept, so a test post that repeats a training post is dropped and
    counted. ``clean=False`` keeps the raw text (the reference notebook's protocol).
    """
    rep = CleanReport(rows_read=len(df))
    rep.empty_bodies = int((df["text"].str.strip() == "").sum())
    rep.html_entity_bodies = int(df["text"].str.contains(_ENTITY).sum())
    join = post_text if clean else join_post
    frame = pd.DataFrame({"post_id": _source_rows(df), "input": [join(t, b) for t, b in zip(df["title"], df["text"])],
                          "target": df["target"].to_numpy()})
    extra = [c for c in df.columns if c in PASSED_THROUGH or c.startswith("coder:")]
    for c in extra:
        frame[c] = df[c].to_numpy()
    frame["key"] = [normalise_key(s) for s in frame["input"]]
    empty = frame["key"] == ""
    rep.empty_posts_dropped = int(empty.sum())
    frame = frame[~empty]
    if dedup:
        frame = _deduplicate(frame, rep)
    frame = frame.reset_index(drop=True)
    rep.rows_kept = len(frame)
    rep.posts_per_class = np.bincount(frame["target"].to_numpy(dtype=int), minlength=n_labels).tolist()
    return Corpus(frame=frame[["post_id", "input", "key", "target"] + extra], report=rep)


def _deduplicate(frame: pd.DataFrame, rep: CleanReport) -> pd.DataFrame:
    # With a fixed split, a test post that repeats a training post goes first, whatever its label:
    # the test file must never change what is trained on; conflicts are then settled within a side.
    sides = ["key"]
    if "split" in frame.columns:
        train_keys = set(frame.loc[frame["split"] == "train", "key"])
        repeats = (frame["split"] == "test") & frame["key"].isin(train_keys)
        rep.test_copies_of_train_dropped = int(repeats.sum())
        frame = frame[~repeats]
        sides = ["split", "key"]
    labels_per_key = frame.groupby(sides)["target"].transform("nunique")
    is_conf = labels_per_key > 1
    rep.conflicting_label_texts = int(frame.loc[is_conf, "key"].nunique())
    rep.conflicting_label_rows_dropped = int(is_conf.sum())
    frame = frame[~is_conf]
    before = len(frame)
    frame = frame.drop_duplicates("key", keep="first")
    rep.duplicate_copies_dropped = before - len(frame)
    return frame
