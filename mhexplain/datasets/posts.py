"""Loading, validating and cleaning the Reddit mental-health CSV.

The CSV has an unnamed index column (restarts per class, so it is no id), ``text``,
``title`` and ``target``. The model input is ``title + " " + text``.
"""
from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mhexplain.core.errors import DataError
from mhexplain.core.labels import NUM_LABELS
from mhexplain.datasets.csvfile import MAX_FILE_BYTES, _decode, _parse_rows, check_upload_size

REQUIRED_COLUMNS = ("text", "title", "target")
# Zero-width and BOM characters show up as "&#x200B;" in Reddit markdown.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_WS = re.compile(r"\s+")


def read_posts_bytes(raw: bytes, source: str = "the file", require_target: bool = True) -> pd.DataFrame:
    """Parse CSV bytes into a validated frame with columns row, title, text[, target].

    ``row`` is each post's row number as a spreadsheet shows it (the header is row 1); messages
    use the same numbers, name the problem and never quote the file's contents.
    """
    text = _decode(raw, source)
    header, rows, numbers = _parse_rows(text, source)
    needed = REQUIRED_COLUMNS if require_target else ("text",)
    missing = [c for c in needed if c not in header]
    if missing:
        raise DataError(f"{source} lacks the column(s) {', '.join(missing)} (its header has {len(header)} "
                        f"column(s); needed: {', '.join(needed)}).")
    if not rows:
        raise DataError(f"{source} has a header but no rows.")

    def column(name: str) -> list[str]:
        k = header.index(name)
        return [r[k] for r in rows]

    out = pd.DataFrame({"title": column("title") if "title" in header else [""] * len(rows),
                        "text": column("text")}, dtype=object)
    if "target" in header:
        target = pd.Series(column("target"), dtype=object)
        if require_target or (target.str.strip() != "").any():
            out["target"] = parse_labels(target, source, numbers)
    out.insert(0, "row", np.asarray(numbers, dtype=int))
    return out


def read_upload(raw: bytes, name: str, require_target: bool = True) -> pd.DataFrame:
    """A visitor's uploaded CSV, refused above the upload limit before it is parsed."""
    check_upload_size(raw, name)
    return read_posts_bytes(raw, name, require_target=require_target)


def class_ids(col: pd.Series) -> np.ndarray:
    """The class id each cell of a target column holds (a whole number 0 to NUM_LABELS - 1, written
    as "2" or "2.0"), -1 where it holds none: the one reading of a target, for training and uploads."""
    nums = pd.to_numeric(col.astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(nums) & (nums == np.floor(nums)) & (nums >= 0) & (nums < NUM_LABELS)
    return np.where(ok, np.nan_to_num(nums), -1).astype(int)


def parse_labels(col: pd.Series, source: str = "the file", row_numbers=None) -> np.ndarray:
    ids = class_ids(col)
    bad = ids < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row = row_numbers[i] if row_numbers is not None else i + 2
        raise DataError(
            f"{source} row {row}: the target is not a class id 0-{NUM_LABELS - 1} "
            f"({int(bad.sum())} bad label(s) in all; rows count from the header, row 1)."
        )
    return ids


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
        inputs = [post_text(t, b) for t, b in zip(df["title"], df["text"])]
    else:
        inputs = [join_post(t, b) for t, b in zip(df["title"], df["text"])]
    frame = pd.DataFrame({"post_id": _source_rows(df), "input": inputs, "target": df["target"].to_numpy()})
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
