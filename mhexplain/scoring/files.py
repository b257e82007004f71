"""Score a CSV of posts of any size with the trained models, into a predictions CSV.

The file is read and written a chunk at a time, so memory does not grow with it. Each output
row is one input row, in order, in the one predictions table (``scoring.table``: the Batch
page's download is the same): its row number as a spreadsheet shows it, the id column when asked
for, a note, and for every model the predicted class, its calibrated confidence, whether the
model abstains, and the calibrated probability of each class. The output is written under a temporary name
and renamed when complete, so a crash or a malformed row midway leaves no partial file under
the final name. Several processes (``accelerate launch``) each write every P-th chunk to a part
file, and the first joins the parts in order; the command line is ``mhexplain.cli.score``.
"""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from typing import Callable

from mhexplain.core.outputs import atomic_file, create_exclusive, temp_folder_beside
from mhexplain.datasets.csvfile import CsvColumns, column_indexes, named_columns
from mhexplain.preprocess import clear_memo
from mhexplain.scoring.inputs import TITLE_COLUMN
from mhexplain.scoring.table import score_rows, write_rows
from mhexplain.trust.shift import Reference, Sample

DEFAULT_CHUNK = 2000
# The options that name the columns read, in the order their names are passed around.
COLUMN_OPTIONS = ("--text-col", "--title-col", "--id-col")


def file_columns(data: Path, text_col: str, title_col: str | None, id_col: str | None) -> tuple:
    """The columns ``score_file`` reads, checked against the file's header (one line naming what is
    missing). The default title column is optional, as on the Batch page: a file without one holds
    posts without titles."""
    with CsvColumns(data, {}) as table:
        header = table.header
    if title_col == TITLE_COLUMN and TITLE_COLUMN not in header:
        title_col = None
    columns = (text_col, title_col, id_col)
    column_indexes(header, named_columns(COLUMN_OPTIONS, columns), str(data))
    return columns


def score_chunk(models: dict, chunk, text_col: str, title_col: str | None, id_col: str | None,
                reference: Reference | None = None, sample: Sample | None = None) -> list[list]:
    """The table's rows (``table.Scored``) for one chunk of the file, indexed by row number; with
    ``reference``, the chunk's posts also join ``sample`` with the reference model's predictions."""
    scored = score_rows(models, chunk.index, chunk[title_col] if title_col else None, chunk[text_col],
                        chunk[id_col] if id_col else None, reference=reference)
    clear_memo()  # NB and LR shared this chunk's preprocessing; the next chunk's posts are new
    if reference is not None and sample is not None:
        has = scored.has_text
        sample.add([t for t in scored.inputs if t], scored.predicted(reference.model)[has])
    return scored.table_rows()


def header(models: dict, id_col: str | None, reference: Reference | None = None) -> list[str]:
    """The table's header, for these models (an empty table has the same columns)."""
    return score_rows(models, [], None, [], [] if id_col else None, reference=reference).header()


def score_file(models: dict, data: Path, out: Path, text_col: str = "text", title_col: str | None = "title",
               id_col: str | None = None, chunk_size: int = DEFAULT_CHUNK,
               progress: Callable[[int], None] | None = None, rank: int = 0, world: int = 1,
               barrier: Callable[[], None] | None = None, share: Callable[[object], object] | None = None,
               reference: Reference | None = None, sample: Sample | None = None) -> int:
    """Write ``out`` (complete or not at all); returns the number of rows scored (by this process).
    ``out`` is checked by the caller (``outputs.check_output_file``), before the models are loaded.
    With ``reference``, every post is also compared with the models' in-domain posts (``shift``),
    and ``sample`` draws from the posts this process scores (the first process's are every P-th
    chunk of the file: spread over all of it) for the file's shift test.

    Under several processes, ``barrier`` waits for all of them and ``share`` gives every process
    the first one's value.
    """
    data, out = Path(data), Path(out)
    columns = (text_col, title_col, id_col)
    with CsvColumns(data, named_columns(COLUMN_OPTIONS, columns)) as table:
        # Each process writes its chunks to a part file; the first joins them in order. The parts
        # lie in a folder made afresh beside the output that only this user can enter, so no file
        # or link that someone left under a name we would choose is ever written through.
        workdir = _parts_folder(out, rank, share)
        parts = [workdir / f"part{r}" for r in range(world)]
        try:
            n = _write_part(models, table.chunks(chunk_size), parts[rank], columns, chunk_size, rank, world,
                            progress, reference, sample)
            if barrier:
                barrier()  # every part is complete; the other processes leave theirs for the first to join
            if rank == 0:
                _join_parts(parts, out, header(models, id_col, reference), chunk_size)
        except BaseException:
            if rank != 0:
                parts[rank].unlink(missing_ok=True)
            raise
        finally:
            if rank == 0:
                shutil.rmtree(workdir, ignore_errors=True)
    return n


def _parts_folder(out: Path, rank: int, share) -> Path:
    folder = str(temp_folder_beside(out)) if rank == 0 else None
    return Path(share(folder) if share else folder)


def _write_part(models: dict, chunks, part: Path, columns: tuple, chunk_size: int, rank: int, world: int,
                progress, reference: Reference | None, sample: Sample | None) -> int:
    """Score every ``world``-th chunk, from the ``rank``-th, into ``part``; the rows scored."""
    n = 0
    with os.fdopen(create_exclusive(part), "w", newline="", encoding="utf-8") as f:
        for k, chunk in enumerate(chunks):
            if k % world != rank:
                continue
            write_rows(f, score_chunk(models, chunk, *columns, reference, sample))
            n += len(chunk)
            if progress:
                progress(len(chunk) * world)
    return n


def _join_parts(parts: list[Path], out: Path, header: list[str], chunk_size: int) -> None:
    """Interleave the parts chunk by chunk (part r holds chunks r, r+P, ...) into ``out``, atomically."""
    with atomic_file(out, newline="") as f:
        write_rows(f, [header])
        files = [open(p, encoding="utf-8", newline="") for p in parts]
        try:
            # parsed as CSV, not split into lines: an id cell may hold a line break
            readers = [csv.reader(part) for part in files]
            live = list(range(len(parts)))
            while live:
                for r in list(live):
                    rows = [row for _, row in zip(range(chunk_size), readers[r])]
                    write_rows(f, rows)
                    if len(rows) < chunk_size:
                        live.remove(r)
        finally:
            for part in files:
                part.close()
