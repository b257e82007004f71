"""Any labelled CSV as training data: which columns hold what, and the label set they give.

``DatasetSpec`` names the columns (text, optional title, label, and optionally a group, a
train/test split and human coders' labels) and, optionally, the label names and their order.
With no columns named, the Kaggle "Reddit Mental Health Data" preset applies: ``text``,
``title``, and ``target`` holding class numbers 0-4 for the five names in ``KAGGLE_LABELS``.

How a label column becomes class ids (the one reading, for training, coders and uploads):
- with ``labels`` given, each cell must be one of those names or a whole number 0 to
  len(labels) - 1 (written "2" or "2.0"), meaning the name at that place (the preset's "0"-"4");
- without, the classes are the column's distinct values, sorted (numerically when all are
  whole numbers).
Messages name the file, the column and the row (as a spreadsheet counts them) and never quote a
cell, since cells come from people we do not trust.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mhexplain.core.errors import DataError
from mhexplain.core.labels import MAX_CLASSES, MAX_LABEL_CHARS, MIN_CLASSES, check_label_set, label_problem
from mhexplain.datasets.csvfile import MAX_FILE_BYTES, _decode, _parse_rows, check_upload_size, column_indexes

KAGGLE_LABELS: tuple[str, ...] = ("stress", "depression", "bipolar", "personality disorder", "anxiety")
SPLIT_VALUES = {"train": "train", "training": "train", "dev": "train", "val": "train", "valid": "train",
                "validation": "train", "test": "test", "testing": "test"}
CODER_PREFIX = "coder:"


@dataclass
class DatasetSpec:
    """Which columns of a CSV hold what (``train``'s options of the same names, ``--text-col`` ...)."""

    text_col: str | None = None
    title_col: str | None = None
    label_col: str | None = None
    labels: tuple[str, ...] = ()
    group_col: str | None = None
    split_col: str | None = None
    coder_cols: tuple[str, ...] = ()

    @property
    def is_preset(self) -> bool:
        return self.text_col is None and self.label_col is None

    def resolved(self) -> DatasetSpec:
        """The spec with the Kaggle preset filled in when no column is named."""
        if not self.is_preset:
            return self
        return DatasetSpec("text", self.title_col or "title", "target", self.labels or KAGGLE_LABELS,
                           self.group_col, self.split_col, self.coder_cols)

    def problems(self) -> list[str]:
        out = []
        if (self.text_col is None) != (self.label_col is None):
            out.append("--text-col and --label-col go together: name both (or neither, for the Kaggle file)")
        named = [c for c in (self.text_col, self.title_col, self.label_col, self.group_col, self.split_col)
                 if c] + list(self.coder_cols)
        if len(set(named)) < len(named):
            out.append("one column is named for two roles (--text-col, --title-col, --label-col, --group-col, "
                       "--split-col, --coder-cols); name each column once")
        if any(not c.strip() for c in self.coder_cols):
            out.append("--coder-cols names an empty column")
        if self.coder_cols and len(self.coder_cols) < 2:
            out.append("--coder-cols needs at least two coders' columns")
        return out

    def columns(self) -> dict[str, str]:
        """role -> column name, for every column this spec reads (preset resolved)."""
        s = self.resolved()
        roles = {"--text-col": s.text_col, "--title-col": s.title_col, "--label-col": s.label_col,
                 "--group-col": s.group_col, "--split-col": s.split_col}
        roles |= {f"--coder-cols {c}": c for c in s.coder_cols}
        return {role: name for role, name in roles.items() if name}

    def describe(self) -> dict:
        """The columns used, as the manifest records them."""
        s = self.resolved()
        return {"text": s.text_col, "title": s.title_col, "label": s.label_col, "group": s.group_col,
                "split": s.split_col, "coders": list(s.coder_cols), "preset": "kaggle" if self.is_preset else None}


@dataclass
class Dataset:
    """A labelled file read under a spec: ``frame`` has ``row`` (spreadsheet row number), ``title``,
    ``text``, ``target`` (class id into ``labels``), and ``group``, ``split`` and one
    ``coder:<column>`` column (class id, -1 where that coder gave none) where the spec names them."""

    frame: pd.DataFrame
    labels: tuple[str, ...]
    spec: DatasetSpec
    label_source: str  # "given" (--labels or the preset) or "sorted"

    @property
    def coders(self) -> list[str]:
        return [c[len(CODER_PREFIX):] for c in self.frame.columns if c.startswith(CODER_PREFIX)]


_WHOLE = re.compile(r"[+-]?[0-9]+(?:\.0*)?")


def whole_number(cell: str) -> int | None:
    """A cell as a whole number ("2", "2.0", "-1"; not "²", "1e3" or "1.5"), read exactly (no
    float in between: 2**53 + 1 stays itself); None where it is not one."""
    cell = cell.strip()
    return int(cell.split(".")[0]) if _WHOLE.fullmatch(cell) else None


def _whole_numbers(cells: pd.Series) -> np.ndarray:
    """Each cell as a whole number >= 0, -1 where it is not one (class numbers count from 0)."""
    numbers = [whole_number(str(c)) for c in cells]
    return np.asarray([n if n is not None and 0 <= n < 2**62 else -1 for n in numbers], dtype=np.int64)


def _where(source: str, column: str, rows: np.ndarray, bad: np.ndarray) -> str:
    return f"{source} row {int(rows[int(np.flatnonzero(bad)[0])]):,}, column {column!r}"


def class_ids(cells: pd.Series, labels: tuple[str, ...]) -> np.ndarray:
    """Each cell's class id under ``labels``: a name; else a class number 0..K-1 (as the Kaggle
    file writes its classes), unless the names are numbers themselves. -1 where it holds
    neither, or nothing."""
    cells = cells.astype(str).str.strip()
    ids = cells.map({name: k for k, name in enumerate(labels)}).fillna(-1).to_numpy(dtype=np.int64)
    label_numbers = [whole_number(lab) for lab in labels]
    if all(n is not None for n in label_numbers):  # the classes are numbers: "2.0" is class "2"
        by_value = {n: k for k, n in enumerate(label_numbers)}
        ids = np.where(ids < 0, [by_value.get(whole_number(c), -1) for c in cells], ids)
    elif all(n is None for n in label_numbers):
        numbers = _whole_numbers(cells)
        ids = np.where((ids < 0) & (numbers < len(labels)), numbers, ids)
    return np.where((cells != "").to_numpy(), ids, -1)


def label_ids(cells: pd.Series, labels: tuple[str, ...], column: str, source: str, rows: np.ndarray,
              allow_empty: bool = False) -> np.ndarray:
    """``class_ids``, with an empty cell (unless ``allow_empty``) or an unknown label refused in
    one line naming the row."""
    empty = (cells.astype(str).str.strip() == "").to_numpy()
    if empty.any() and not allow_empty:
        raise DataError(f"{_where(source, column, rows, empty)} is empty: every row needs a label "
                        "(remove the row or fill it in).")
    ids = class_ids(cells, labels)
    bad = ~empty & (ids < 0)
    if bad.any():
        raise DataError(f"{_where(source, column, rows, bad)} holds a label that is none of the {len(labels)} "
                        f"classes ({', '.join(labels[:5])}{', …' if len(labels) > 5 else ''}) nor a class number "
                        f"0-{len(labels) - 1} ({int(bad.sum()):,} such row(s)); fix the labels or --labels.")
    return ids


def infer_labels(cells: pd.Series, column: str, source: str, rows: np.ndarray) -> tuple[str, ...]:
    """The distinct labels of a column without ``--labels``: sorted, numerically when all are numbers."""
    cells = cells.astype(str).str.strip()
    values = sorted(set(cells) - {""})
    if len(values) > MAX_CLASSES:
        raise DataError(f"{source}: column {column!r} holds {len(values):,} distinct labels; a label column holds "
                        f"{MIN_CLASSES} to {MAX_CLASSES} classes. Is it free text or ids? Name the label column with "
                        "--label-col.")
    filled = int((cells != "").sum())
    if any(len(v) > MAX_LABEL_CHARS for v in values) or (len(values) > 10 and len(values) > filled / 2):
        raise DataError(f"{source}: column {column!r} looks like free text or ids, not labels ({len(values):,} distinct "
                        f"values in {filled:,} rows, or values over {MAX_LABEL_CHARS} characters). Name the label column "
                        "with --label-col.")
    if len(values) < MIN_CLASSES:
        raise DataError(f"{source}: column {column!r} holds {len(values)} class(es); a classifier needs at least "
                        f"{MIN_CLASSES}. Check --label-col.")
    numbers = [whole_number(v) for v in values]
    if all(n is not None for n in numbers):
        values = [str(n) for n in sorted(set(numbers))]
    bad = [v for v in values if label_problem(v)]
    if bad:  # named by the first row that holds it (numbers are always safe: a bad name is a cell as written)
        row = int(rows[int(np.flatnonzero(cells.to_numpy() == bad[0])[0])])
        raise DataError(f"{source}: column {column!r} holds a label (first in row {row:,}) that "
                        f"{label_problem(bad[0])}; rename it.")
    return check_label_set(values, f"{source}: column {column!r}")


def _column(header: list[str], rows: list[list[str]], name: str) -> pd.Series:
    k = header.index(name)
    return pd.Series([r[k] for r in rows], dtype=object)


def _group_column(cells: pd.Series, column: str, source: str, rows: np.ndarray) -> pd.Series:
    cells = cells.str.strip()
    empty = (cells == "").to_numpy()
    if empty.any():
        raise DataError(f"{_where(source, column, rows, empty)} is empty: every row needs a group (give rows "
                        "without one a group of their own).")
    if cells.nunique() < 2:
        raise DataError(f"{source}: column {column!r} holds one group; a group split needs many (check --group-col).")
    return cells


def _split_column(cells: pd.Series, column: str, source: str, rows: np.ndarray) -> pd.Series:
    split = cells.str.strip().str.lower().map(SPLIT_VALUES)
    bad = split.isna().to_numpy()
    if bad.any():
        raise DataError(f"{_where(source, column, rows, bad)} is neither train nor test ({int(bad.sum()):,} such "
                        f"row(s)); --split-col takes {', '.join(sorted(SPLIT_VALUES))}.")
    return split


def parse_dataset(raw: bytes, source: str, spec: DatasetSpec, labels: tuple[str, ...] | None = None) -> Dataset:
    """A CSV's bytes read under ``spec``; ``labels`` fixes the label set (a separate test file is
    read with its training file's labels)."""
    s = spec.resolved()
    header, rows, numbers = _parse_rows(_decode(raw, source), source)
    column_indexes(header, s.columns(), source, quote_header=False)  # missing or repeated: one line
    if not rows:
        raise DataError(f"{source} has a header but no rows.")
    rownum = np.asarray(numbers, dtype=int)
    frame = pd.DataFrame({"row": rownum,
                          "title": _column(header, rows, s.title_col) if s.title_col in header else "",
                          "text": _column(header, rows, s.text_col)})
    if not (frame["text"].str.strip() != "").any():
        raise DataError(f"{source}: column {s.text_col!r} is empty in every row; check --text-col.")
    cells = _column(header, rows, s.label_col)
    given = labels or (check_label_set(s.labels, "--labels") if s.labels else None)
    labels = given or infer_labels(cells, s.label_col, source, rownum)
    frame["target"] = label_ids(cells, labels, s.label_col, source, rownum)
    if s.group_col:
        frame["group"] = _group_column(_column(header, rows, s.group_col), s.group_col, source, rownum)
    if s.split_col:
        frame["split"] = _split_column(_column(header, rows, s.split_col), s.split_col, source, rownum)
    for c in s.coder_cols:
        coded = _column(header, rows, c)
        if not (coded.astype(str).str.strip() != "").any():
            raise DataError(f"{source}: coder column {c!r} is empty in every row; name only columns that hold codes.")
        frame[CODER_PREFIX + c] = label_ids(coded, labels, c, source, rownum, allow_empty=True)
    return Dataset(frame, labels, spec, "given" if given else "sorted")


def check_preset_fits(dataset: Dataset, source: str) -> None:
    """Before training: with no column named, the Kaggle preset reads the file; a file of its
    column names but of other classes (its own text/title/target) is told how to name its columns."""
    if not dataset.spec.is_preset or dataset.spec.labels:
        return
    labels, column = dataset.labels, dataset.spec.resolved().label_col
    present = len(set(dataset.frame["target"].tolist()))
    if present < len(labels):
        raise DataError(f"{source}: with no --text-col and --label-col the Kaggle preset applies (column {column!r} "
                        f"holds class numbers 0-{len(labels) - 1}: {', '.join(labels)}), but the file holds "
                        f"{present} of them. For your own data name the columns: --text-col text --label-col "
                        f"{column}.")


def read_dataset(path: str | os.PathLike, spec: DatasetSpec, labels: tuple[str, ...] | None = None) -> Dataset:
    p = Path(path)
    if not p.exists():
        raise DataError(f"Data file not found: {p}.")
    if not p.is_file():
        raise DataError(f"{p} is not a file.")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise DataError(f"{p} is larger than {MAX_FILE_BYTES // 2**20} MiB.")
    return parse_dataset(p.read_bytes(), str(p), spec, labels)


def read_dataset_upload(raw: bytes, name: str, spec: DatasetSpec) -> Dataset:
    """A visitor's uploaded CSV, refused above the upload limit before it is parsed."""
    check_upload_size(raw, name)
    return parse_dataset(raw, name, spec)


def with_test_file(train: Dataset, test: Dataset) -> Dataset:
    """One dataset of a training file and a separate test file: a fixed split."""
    frame = pd.concat([train.frame.assign(split="train"), test.frame.assign(split="test")], ignore_index=True)
    for coder in test.coders:  # coded in the test file only: the training rows are uncoded
        frame[CODER_PREFIX + coder] = frame[CODER_PREFIX + coder].fillna(-1).astype(np.int64)
    return Dataset(frame, train.labels, test.spec, train.label_source)
