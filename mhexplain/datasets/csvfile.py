"""Reading CSV files of any size and uploads, with every limit checked as a line or row is read.

The csv module rather than pandas: pandas' parser takes minutes and gigabytes on a header or a row
of a million fields before any check can run. Messages name the file and the row (as a
spreadsheet counts them: the header is row 1) and never quote the file's contents.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from mhexplain.core.errors import DataError
from mhexplain.settings import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB

MAX_FILE_BYTES = 512 * 1024 * 1024
# A header wider than this is refused before parsing: pandas takes minutes and gigabytes on a
# header of a million names, and no posts file needs more than a handful of columns.
MAX_COLUMNS = 256

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


# The longest cell read; a longer one refuses the file (the models read at most
# classifier.MAX_POST_CHARS of a post, and a file with bigger cells is not a posts file).
MAX_CELL_CHARS = 1_000_000
# A longer line is refused before the csv module splits it: a line of four million commas would
# become a list of four million fields first, and only then could its width be checked.
MAX_LINE_CHARS = 4 * 2**20
# How far into an over-long header its columns are counted, for the message that refuses it.
_HEADER_SCAN_CHARS = 16 * MAX_LINE_CHARS


def _too_long_header(start: str, f, source: str) -> str:
    commas, scanned, piece = start.count(","), len(start), start
    while not piece.endswith(("\n", "\r")) and scanned < _HEADER_SCAN_CHARS:
        piece = f.readline(MAX_LINE_CHARS)
        if not piece:
            break
        commas, scanned = commas + piece.count(","), scanned + len(piece)
    if commas < MAX_COLUMNS:
        return f"{source} has a header longer than {MAX_LINE_CHARS:,} characters."
    about = "more than" if scanned >= _HEADER_SCAN_CHARS else "about"
    return f"{source} has {about} {commas + 1:,} columns in its header; at most {MAX_COLUMNS} are read."


def _lines(f, source: str) -> Iterator[str]:
    """``f``'s lines, none longer than MAX_LINE_CHARS (read no further than that to find out)."""
    for number, line in enumerate(iter(lambda: f.readline(MAX_LINE_CHARS + 1), ""), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise DataError(_too_long_header(line, f, source) if number == 1
                            else f"{source} line {number:,} is longer than {MAX_LINE_CHARS:,} characters.")
        yield line


# The csv module's own limit is one setting for the whole process, shared by every thread (the
# app's sessions read uploads side by side): raised once, here, so that it never stops a cell this
# reader accepts, and never lowered again. Our limit is checked on each record instead.
csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
_LONG_CELL = f"a cell is longer than {MAX_CELL_CHARS:,} characters"


def _next_record(reader, source: str, number: int) -> list[str] | None:
    """The next record (None at the end), any reading problem as one line naming the row."""
    try:
        record = next(reader)
    except StopIteration:
        return None
    except UnicodeDecodeError:
        raise DataError(f"{source} is not UTF-8 text (an invalid byte near row {number:,}); "
                        "re-save it as UTF-8.") from None
    except csv.Error as err:
        what = (_LONG_CELL if "field larger" in str(err)
                else "a quoted field is never closed" if "EOF" in str(err) or "end of data" in str(err)
                else "malformed quoting")
        raise DataError(f"{source} is not a readable CSV: {what} (near row {number:,}).") from None
    if any(len(cell) > MAX_CELL_CHARS for cell in record):
        raise DataError(f"{source} is not a readable CSV: {_LONG_CELL} (near row {number:,}).")
    return record


def iter_csv(f, source: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, fields) for the header of the CSV text ``f`` and for each row after it.

    Rows are numbered as a spreadsheet counts them: the header is row 1, and blank lines, which
    are skipped, count too. Header names are stripped; a shorter row is padded to the header's
    width. Every limit is checked as soon as a line or a row is read, never after the whole file:
    the csv module rather than pandas, whose parser takes minutes and gigabytes on a header or a
    row of a million fields before any check can run.
    """
    reader = csv.reader(_lines(f, source), strict=True)
    header = _next_record(reader, source, 1)
    if header is None:
        raise DataError(f"{source} is empty.")
    if len(header) > MAX_COLUMNS:
        raise DataError(f"{source} has {len(header):,} columns in its header; at most {MAX_COLUMNS} are read.")
    yield 1, [h.strip() for h in header]
    number, width = 1, len(header)
    while (row := _next_record(reader, source, number + 1)) is not None:
        number += 1
        if not row:
            continue  # a blank line
        if len(row) > width:
            raise DataError(f"{source} row {number:,} has {len(row):,} fields but the header has {width}.")
        yield number, row + [""] * (width - len(row))


def _parse_rows(text: str, source: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and each row's number (see ``iter_csv``) of a whole CSV text."""
    records = iter_csv(io.StringIO(text, newline=""), source)
    _, header = next(records)
    rows, numbers = [], []
    for number, row in records:
        rows.append(row)
        numbers.append(number)
    return header, rows, numbers


def size_text(n_bytes: int) -> str:
    """A size in the megabytes (10**6 bytes) the browser names the upload limit in."""
    return f"{n_bytes / 10**6:.2f} MB ({n_bytes:,} bytes)"


def check_upload_size(raw: bytes, name: str) -> None:
    """Refuse, before it is parsed, an upload over the limit the browser shows."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise DataError(f"{name} is {size_text(len(raw))}; the limit is {MAX_UPLOAD_MB} MB "
                        f"({MAX_UPLOAD_BYTES:,} bytes).")


def _frame(rows: list[list[str]], columns: list[str], numbers: list[int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns, dtype=object, index=pd.Index(numbers, name="row"))


def read_table_upload(raw: bytes, name: str, max_rows: int) -> pd.DataFrame:
    """Any uploaded CSV as a frame of strings (column names stripped), with the upload's limits,
    indexed by each row's number as a spreadsheet shows it (the header is row 1)."""
    check_upload_size(raw, name)
    header, rows, numbers = _parse_rows(_decode(raw, name), name)
    if not rows:
        raise DataError(f"{name} has a header but no rows.")
    if len(rows) > max_rows:
        raise DataError(f"{name} has {len(rows):,} rows; the limit is {max_rows:,} per upload.")
    if len(set(header)) < len(header):
        raise DataError(f"{name} has two columns with the same name.")
    return _frame(rows, header, numbers)


def _open_csv_file(path: Path):
    """``path`` open as UTF-8 text for the csv module, once it is known to be a readable text file."""
    if not path.exists():
        raise DataError(f"Data file not found: {path}.")
    if not path.is_file():
        raise DataError(f"{path} is not a regular file.")
    try:
        with open(path, "rb") as f:
            if b"\x00" in f.read(65536):
                raise DataError(f"{path} looks like a binary file, not a CSV.")
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as err:
        raise DataError(f"{path} cannot be read ({err.strerror or type(err).__name__}).") from None


def _shown_columns(header: list[str], at_most: int = 12) -> str:
    names = [repr(h if len(h) <= 40 else h[:40] + "…") for h in header[:at_most]]
    if len(header) > at_most:
        names.append(f"{len(header) - at_most:,} more")
    if len(names) < 2:
        return "".join(names) or "none"
    return ", ".join(names[:-1]) + " and " + names[-1]


def named_columns(options, names) -> dict[str, str]:
    """The columns a command reads, keyed by the option that names each (``options`` and ``names``
    side by side); an option left empty names no column."""
    return {option: name for option, name in zip(options, names) if name}


def column_indexes(header: list[str], columns: dict[str, str], source: str,
                   quote_header: bool = True) -> dict[str, int]:
    """Where each wanted column is; ``columns`` maps what a column is for (an option's name, say)
    to its name in the file. Missing or repeated columns are refused in one sentence, which lists
    the file's columns unless ``quote_header`` is False (a file that may not be the user's own:
    training data named by a path is never quoted)."""
    missing = [f"{name!r} ({role})" for role, name in columns.items() if name not in header]
    if missing:
        shown = f"its columns are {_shown_columns(header)}" if quote_header else f"its header has {len(header)} column(s)"
        raise DataError(f"{source} has no column named {' or '.join(missing)}; {shown}.")
    repeated = [name for name in dict.fromkeys(columns.values()) if header.count(name) > 1]
    if repeated:
        raise DataError(f"{source} has {header.count(repeated[0])} columns named {repeated[0]!r}; "
                        "rename all but one.")
    return {name: header.index(name) for name in columns.values()}


class CsvColumns:
    """Some columns of a CSV file of any size, read a chunk of rows at a time as frames of strings.

    The header is read and checked when the object is made, before any other work; every other
    limit of ``iter_csv`` as each row is read. Use as a context manager (it holds the file open).
    """

    def __init__(self, path, columns: dict[str, str]) -> None:
        self.path = Path(path)
        self._file = _open_csv_file(self.path)
        try:
            self._records = iter_csv(self._file, str(self.path))
            _, self.header = next(self._records)
            self._index = column_indexes(self.header, columns, str(self.path))
        except BaseException:
            self._file.close()
            raise

    def chunks(self, size: int) -> Iterator[pd.DataFrame]:
        """Frames of at most ``size`` rows, indexed by each row's number (see ``iter_csv``)."""
        names, at = list(self._index), list(self._index.values())
        rows, numbers = [], []
        for number, row in self._records:
            rows.append([row[k] for k in at])
            numbers.append(number)
            if len(rows) == size:
                yield _frame(rows, names, numbers)
                rows, numbers = [], []
        if rows:
            yield _frame(rows, names, numbers)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvColumns:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
