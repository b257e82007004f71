"""Loading, validating and cleaning the Reddit mental-health CSV.

The CSV has an unnamed index column (restarts per class, so it is no id), ``text``,
``title`` and ``target``. The model input is ``title + " " + text``.
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .labels import NUM_LABELS

REQUIRED_COLUMNS = ("text", "title", "target")
MAX_FILE_BYTES = 512 * 1024 * 1024
DATA_FILE = "data_to_be_cleansed.csv"
_PROJECT = Path(__file__).resolve().parents[1]


def default_data_path() -> str:
    """The dataset CSV if one is found: MHX_DATA, then data/ in the project, then the copy in
    ../shared/data beside it (the development machines); "" when there is none."""
    for cand in (os.environ.get("MHX_DATA"), _PROJECT / "data" / DATA_FILE,
                 _PROJECT.parent / "shared" / "data" / DATA_FILE):
        if cand and Path(cand).is_file():
            return str(cand)
    return ""


# Zero-width and BOM characters show up as "&#x200B;" in Reddit markdown.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_WS = re.compile(r"\s+")


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _decode(raw: bytes, source: str) -> str:
    if not raw.strip():
        raise DataError(f"{source} is empty.")
    if b"\x00" in raw[:65536]:
        raise DataError(f"{source} looks like a binary file, not a CSV.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{source} is not UTF-8 text (invalid byte at position {err.start}); re-save it as UTF-8."
        ) from None


def read_posts_bytes(raw: bytes, source: str = "the file", require_target: bool = True) -> pd.DataFrame:
    """Parse CSV bytes into a validated frame with columns title, text[, target] (all strings but target)."""
    text = _decode(raw, source)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, csv.Error, pd.errors.EmptyDataError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "no columns found"
        raise DataError(f"{source} is not a readable CSV: {first}.") from None
    df.columns = [str(c).strip() for c in df.columns]
    needed = REQUIRED_COLUMNS if require_target else ("text",)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        have = ", ".join(c for c in df.columns if c) or "none"
        raise DataError(f"{source} lacks the column(s) {', '.join(missing)} (found: {have}).")
    if len(df) == 0:
        raise DataError(f"{source} has a header but no rows.")
    out = pd.DataFrame({"title": df["title"] if "title" in df.columns else "", "text": df["text"]})
    out["title"] = out["title"].astype(str)
    out["text"] = out["text"].astype(str)
    if "target" in df.columns and (require_target or (df["target"].str.strip() != "").any()):
        out["target"] = parse_labels(df["target"], source)
    return out.reset_index(drop=True)


def parse_labels(col: pd.Series, source: str = "the file") -> np.ndarray:
    stripped = col.astype(str).str.strip()
    nums = pd.to_numeric(stripped, errors="coerce")
    bad = nums.isna() | (nums != np.floor(nums)) | (nums < 0) | (nums >= NUM_LABELS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{source} row {i + 2}: target {stripped.iloc[i]!r} is not a class id 0-{NUM_LABELS - 1} "
            f"({int(bad.sum())} bad label(s) in all)."
        )
    return nums.astype(int).to_numpy()


def read_posts(path: str | os.PathLike, require_target: bool = True) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise DataError(f"Data file not found: {p}.")
    if not p.is_file():
        raise DataError(f"{p} is not a file.")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise DataError(f"{p} is larger than {MAX_FILE_BYTES // 2**20} MiB.")
    return read_posts_bytes(p.read_bytes(), str(p), require_target=require_target)


def clean_text(s: str) -> str:
    """Unescape HTML entities (twice: Reddit exports hold '&amp;#x200B;'), drop zero-width chars, trim."""
    s = html.unescape(html.unescape(s))
    s = _ZERO_WIDTH.sub("", s)
    return s.replace("\xa0", " ").strip()


def join_post(title: str, text: str) -> str:
    return f"{title} {text}"


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
    rows_kept: int = 0
    posts_per_class: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items()}


@dataclass
class Corpus:
    """Posts ready for splitting. ``post_id`` is the row number in the source CSV (0-based)."""

    frame: pd.DataFrame  # columns: post_id, input (model text), key, target
    report: CleanReport = field(default_factory=CleanReport)

    @property
    def texts(self) -> list[str]:
        return self.frame["input"].tolist()

    @property
    def targets(self) -> np.ndarray:
        return self.frame["target"].to_numpy()


_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def build_corpus(df: pd.DataFrame, dedup: bool, clean: bool) -> Corpus:
    """Turn a validated frame into model inputs.

    ``dedup`` keeps one copy of each same-label duplicate (by normalised key) and drops every
    copy of a text carrying more than one label. ``clean=False`` keeps the raw text (the
    reference notebook's protocol).
    """
    rep = CleanReport(rows_read=len(df))
    rep.empty_bodies = int((df["text"].str.strip() == "").sum())
    rep.html_entity_bodies = int(df["text"].str.contains(_ENTITY).sum())
    if clean:
        inputs = [join_post(clean_text(t), clean_text(b)).strip() for t, b in zip(df["title"], df["text"])]
    else:
        inputs = [join_post(t, b) for t, b in zip(df["title"], df["text"])]
    frame = pd.DataFrame({"post_id": np.arange(len(df)), "input": inputs, "target": df["target"].to_numpy()})
    frame["key"] = [normalise_key(s) for s in inputs]
    empty = frame["key"] == ""
    rep.empty_posts_dropped = int(empty.sum())
    frame = frame[~empty]
    if dedup:
        labels_per_key = frame.groupby("key")["target"].nunique()
        conflicting = set(labels_per_key[labels_per_key > 1].index)
        rep.conflicting_label_texts = len(conflicting)
        is_conf = frame["key"].isin(conflicting)
        rep.conflicting_label_rows_dropped = int(is_conf.sum())
        frame = frame[~is_conf]
        before = len(frame)
        frame = frame.drop_duplicates("key", keep="first")
        rep.duplicate_copies_dropped = before - len(frame)
    frame = frame.reset_index(drop=True)
    rep.rows_kept = len(frame)
    rep.posts_per_class = np.bincount(frame["target"].to_numpy(dtype=int), minlength=NUM_LABELS).tolist()
    return Corpus(frame=frame[["post_id", "input", "key", "target"]], report=rep)
