"""Score a CSV of posts of any size with the trained models, into a predictions CSV.

    python -m mhexplain.score --models-dir DIR --data FILE [--text-col text] [--title-col title]
        [--id-col COL] [--models nb,lr,bert] [--chunk-size N] --out PRED.csv

The file is read and written a chunk at a time, so memory does not grow with it. Each output
row is one input row, in order: its row number, the id column when asked for, and for every
model the predicted class, its calibrated confidence, whether the model abstains (confidence
below the threshold saved with it), and the calibrated probability of each class. Rows
without text get empty predictions and a note. The output is written under a temporary name
and renamed when complete, so a crash or a malformed row midway leaves no partial file under
the final name. Under ``accelerate launch -m mhexplain.score ...`` every process scores every
P-th chunk (on its own GPU where there are several) and the first process puts them together.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from mhexplain.core.classifier import MAX_POST_CHARS
from mhexplain.core.errors import DataError, MhxError, train_command
from mhexplain.core.labels import LABELS
from mhexplain.core.outputs import atomic_file, check_output_file, create_exclusive, temp_folder_beside
from mhexplain.datasets.csvfile import CsvColumns, named_columns

DEFAULT_CHUNK = 2000
# The options that name the columns read, in the order their names are passed around.
COLUMN_OPTIONS = ("--text-col", "--title-col", "--id-col")


def load_models(models_dir: Path, wanted: str | None) -> dict:
    """The folder's trained models, or the comma-separated ``wanted`` ones, loaded. A name not
    trained there is refused in one line naming the command that trains it; a model folder that
    cannot be used, in one line naming its problem (rather than scoring without it unsaid)."""
    from mhexplain.artifacts.registry import discover, load_classifier

    names = [n.strip() for n in wanted.split(",") if n.strip()] if wanted else None
    found = [m for m in discover(Path(models_dir)) if m.path.exists() and (names is None or m.name in names)]
    missing = [n for n in names or [] if n not in {m.name for m in found}]
    if missing or not found:
        which = f" {', '.join(missing)}" if missing else ""
        raise DataError(f"No trained model{which} in {models_dir}; train with: {train_command(models_dir, missing)}")
    for m in found:
        if not m.ok:
            raise DataError(f"{m.error} (--models can leave {m.name} out)")
    return {m.name: load_classifier(m.path) for m in found}


def model_inputs(titles, texts) -> tuple[list[str], list[str]]:
    """The models' input for each row (title and text joined as in training) and a note per row."""
    from mhexplain.datasets.posts import clean_text, join_post

    inputs, notes = [], []
    for title, text in zip(titles, texts):
        joined = join_post(clean_text(str(title)), clean_text(str(text))).strip()
        inputs.append(joined[:MAX_POST_CHARS])  # the models read no more of a post
        notes.append("no text" if not joined else "truncated" if len(joined) > MAX_POST_CHARS else "")
    return inputs, notes


def output_columns(model_names: list[str], id_col: str | None) -> list[str]:
    cols = ["row"] + (["id"] if id_col else []) + ["note"]
    for m in model_names:
        cols += [f"{m}_pred", f"{m}_confidence", f"{m}_uncertain"] + [f"{m}_p_{lab.replace(' ', '_')}"
                                                                       for lab in LABELS]
    return cols


def score_chunk(models: dict, chunk, first_row: int, text_col: str, title_col: str | None,
                id_col: str | None) -> list[list]:
    """One output row per input row of ``chunk``."""
    from mhexplain.core.textsafe import neutralise_formula
    from mhexplain.preprocess import clear_memo

    titles = chunk[title_col] if title_col else [""] * len(chunk)
    inputs, notes = model_inputs(titles, chunk[text_col])
    keep = [i for i, t in enumerate(inputs) if t]
    rows = [[first_row + i] + ([neutralise_formula(chunk[id_col].iloc[i])] if id_col else []) + [notes[i]]
            for i in range(len(inputs))]
    for clf in models.values():
        proba = np.asarray(clf.predict_proba([inputs[i] for i in keep])) if keep else np.zeros((0, len(LABELS)))
        # a model saved with an abstention threshold says where it abstains; others leave it blank
        abstains = clf.uncertain(proba) if hasattr(clf, "uncertain") else [""] * len(keep)
        filled = {i: (p, u) for i, p, u in zip(keep, proba, abstains)}
        for i, row in enumerate(rows):
            if i not in filled:
                row += [""] * (3 + len(LABELS))
                continue
            p, u = filled[i]
            row += [LABELS[int(p.argmax())], f"{p.max():.6f}", u if u == "" else int(u)] + [f"{x:.6f}" for x in p]
    clear_memo()  # NB and LR shared this chunk's preprocessing; the next chunk's posts are new
    return rows


def _distributed():
    """accelerate's process state under ``accelerate launch`` with several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    # On a machine without CUDA, accelerate makes a group of CPU processes only when told to.
    return PartialState(cpu=not torch.cuda.is_available())


def score_file(models: dict, data: Path, out: Path, text_col: str = "text", title_col: str | None = "title",
               id_col: str | None = None, chunk_size: int = DEFAULT_CHUNK,
               progress: Callable[[int], None] | None = None, rank: int = 0, world: int = 1,
               barrier: Callable[[], None] | None = None, share: Callable[[object], object] | None = None) -> int:
    """Write ``out`` (complete or not at all); returns the number of rows scored (by this process).
    ``out`` is checked by the caller (``outputs.check_output_file``), before the models are loaded.

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
                            progress)
            if barrier:
                barrier()  # every part is complete; the other processes leave theirs for the first to join
            if rank == 0:
                _join_parts(parts, out, output_columns(list(models), id_col), chunk_size)
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
                progress) -> int:
    """Score every ``world``-th chunk, from the ``rank``-th, into ``part``; the rows scored."""
    n = 0
    with os.fdopen(create_exclusive(part), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        for k, chunk in enumerate(chunks):
            if k % world != rank:
                continue
            w.writerows(score_chunk(models, chunk, k * chunk_size, *columns))
            n += len(chunk)
            if progress:
                progress(len(chunk) * world)
    return n


def _join_parts(parts: list[Path], out: Path, header: list[str], chunk_size: int) -> None:
    """Interleave the parts chunk by chunk (part r holds chunks r, r+P, ...) into ``out``, atomically."""
    with atomic_file(out, newline="") as f:
        f.write(",".join(header) + "\n")
        readers = [open(p, encoding="utf-8", newline="") for p in parts]
        try:
            live = list(range(len(parts)))
            while live:
                for r in list(live):
                    lines = [line for _, line in zip(range(chunk_size), readers[r])]
                    f.writelines(lines)
                    if len(lines) < chunk_size:
                        live.remove(r)
        finally:
            for rd in readers:
                rd.close()


def _shared_value(state):
    """Under several processes, a function giving every process the first process's value."""
    if state is None:
        return None
    from accelerate.utils import broadcast_object_list

    return lambda value: broadcast_object_list([value])[0]


def main(argv=None) -> int:
    from mhexplain.core.progress import Progress
    from mhexplain.core.textsafe import printable
    from mhexplain.preprocess import parallel
    from mhexplain.settings import default_models_dir

    p = argparse.ArgumentParser(prog="python -m mhexplain.score", description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default=str(default_models_dir()))
    p.add_argument("--data", required=True, help="a CSV with a header row")
    p.add_argument("--text-col", default="text")
    p.add_argument("--title-col", default="title", help="'' when the file has no title column")
    p.add_argument("--id-col", help="a column copied into the output to join on")
    p.add_argument("--models", help="comma-separated subset of the folder's models (default: all trained)")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK)
    p.add_argument("--out", required=True, help="the predictions CSV to write")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        state = _distributed()
        rank, world = (state.process_index, state.num_processes) if state else (0, 1)
        data, columns = Path(a.data), (a.text_col, a.title_col or None, a.id_col)
        CsvColumns(data, named_columns(COLUMN_OPTIONS, columns)).close()  # its header, before anything else
        check_output_file(Path(a.out), "--out", inputs=(data,))
        models = load_models(Path(a.models_dir), a.models)
        jobs = max(1, (os.cpu_count() or 1) // world)  # the cores, shared among this machine's processes
        with parallel(jobs), Progress("scoring", "row", enabled=rank == 0) as bar:
            n = score_file(models, data, Path(a.out), *columns, max(1, a.chunk_size), bar.update, rank, world,
                           state.wait_for_everyone if state else None, _shared_value(state))
    except MhxError as err:
        print(f"error: {printable(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # the disk filled up, the folder went away while writing...
        print(f"error: writing {printable(a.out)} failed: {printable(err.strerror or err)}", file=sys.stderr)
        return 2
    if rank == 0:
        print(f"{n:,} rows scored{' by this process' if world > 1 else ''} with {', '.join(models)} "
              f"in {time.perf_counter() - t0:.1f} s -> {printable(a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
