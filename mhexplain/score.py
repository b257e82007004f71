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
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .classifier import MAX_POST_CHARS
from .errors import ConfigError, DataError, MhxError
from .labels import LABELS

DEFAULT_CHUNK = 2000


def read_chunks(path: Path, columns: list[str], chunk_size: int) -> Iterator:
    """``path``'s ``columns`` as string DataFrames of ``chunk_size`` rows; any read error is a DataError.

    Every column is parsed (not just ``columns``): pandas reads a row with too many fields
    without complaint when told to use only some columns, and such a row is malformed.
    """
    import pandas as pd

    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_size)
        for chunk in reader:
            missing = [c for c in columns if c not in chunk.columns]
            if missing:
                raise DataError(f"{path} has no column {', '.join(map(repr, missing))}; its columns are "
                                f"{', '.join(map(repr, list(chunk.columns)[:20]))}.")
            yield chunk[columns]
    except ValueError as err:  # a malformed file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{path}: {first[:160]}") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path} cannot be read as a UTF-8 CSV ({type(err).__name__}).") from None


def model_inputs(titles, texts) -> tuple[list[str], list[str]]:
    """The models' input for each row (title and text joined as in training) and a note per row."""
    from .data import clean_text, join_post

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
    from .preprocess import clear_memo
    from .textsafe import neutralise_formula

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


def check_out_path(out: Path, data: Path) -> None:
    out = Path(out)
    if out.exists() and not out.is_file():
        raise ConfigError(f"--out {out} is a folder; name the CSV file to write.")
    if out.exists() and data.exists() and out.resolve() == data.resolve():
        raise ConfigError("--out is the input file; write the predictions elsewhere.")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ConfigError(f"--out's folder {parent} does not exist.")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"--out's folder {parent} is not writable.")


def score_file(models: dict, data: Path, out: Path, text_col: str = "text", title_col: str | None = "title",
               id_col: str | None = None, chunk_size: int = DEFAULT_CHUNK,
               progress: Callable[[int], None] | None = None, rank: int = 0, world: int = 1,
               barrier: Callable[[], None] | None = None) -> int:
    """Write ``out`` (complete or not at all); returns the number of rows scored (by this process)."""
    data, out = Path(data), Path(out)
    check_out_path(out, data)
    columns = [c for c in dict.fromkeys((text_col, title_col, id_col)) if c]
    header = output_columns(list(models), id_col)
    # Each process writes its chunks to a part file beside the output; the first joins them in order.
    parts = [out.parent / f".{out.name}.part{r}" for r in range(world)]
    n = 0
    try:
        with open(parts[rank], "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            for k, chunk in enumerate(read_chunks(data, columns, chunk_size)):
                if k % world != rank:
                    continue
                w.writerows(score_chunk(models, chunk, k * chunk_size, text_col, title_col, id_col))
                n += len(chunk)
                if progress:
                    progress(len(chunk) * world)
    except BaseException:
        parts[rank].unlink(missing_ok=True)
        raise
    if barrier:
        barrier()  # every part is complete; the other processes leave theirs for the first to join
    if rank == 0:
        try:
            _join_parts(parts, out, header, chunk_size)
        finally:
            for part in parts:
                part.unlink(missing_ok=True)
    return n


def _join_parts(parts: list[Path], out: Path, header: list[str], chunk_size: int) -> None:
    """Interleave the parts chunk by chunk (part r holds chunks r, r+P, ...) into ``out``, atomically."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
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
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None) -> int:
    from tqdm.auto import tqdm

    from .preprocess import parallel
    from .registry import discover, load_classifier
    from .settings import default_models_dir
    from .textsafe import printable

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
    state = None
    try:
        state = _distributed()
        rank, world = (state.process_index, state.num_processes) if state else (0, 1)
        data = Path(a.data)
        if not data.is_file():
            raise DataError(f"Data file not found: {data}.")
        check_out_path(Path(a.out), data)
        wanted = a.models.split(",") if a.models else None
        found = [m for m in discover(Path(a.models_dir)) if m.ok and (wanted is None or m.name in wanted)]
        missing = sorted(set(wanted or []) - {m.name for m in found})
        if missing or not found:
            raise DataError(f"No trained model {', '.join(missing) or ''} in {a.models_dir}.".replace("  ", " "))
        models = {m.name: load_classifier(m.path) for m in found}
        jobs = max(1, (os.cpu_count() or 1) // world)  # the cores, shared among this machine's processes
        with parallel(jobs), tqdm(desc="scoring", unit="row", disable=None if rank == 0 else True) as bar:
            n = score_file(models, data, Path(a.out), a.text_col, a.title_col or None, a.id_col,
                           max(1, a.chunk_size), bar.update, rank, world,
                           state.wait_for_everyone if state else None)
    except MhxError as err:
        print(f"error: {printable(err)}", file=sys.stderr)
        return 2
    if rank == 0:
        print(f"{n:,} rows scored{' by this process' if world > 1 else ''} with {', '.join(models)} "
              f"in {time.perf_counter() - t0:.1f} s -> {printable(a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
