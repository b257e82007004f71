"""Score a CSV of posts of any size with the trained models, into a predictions CSV.

    python -m mhexplain.score --models-dir DIR --data FILE [--text-col text] [--title-col title]
        [--id-col COL] [--models nb,lr,bert] [--chunk-size N] --out PRED.csv [--json SUMMARY.json]

Every post is compared with the models' held-out in-domain posts (its ``in_domain_similarity``
and ``in_domain_typicality`` columns), and the file as a whole is tested for shift: the verdict,
and each model's predicted-class shares beside the training data's, are printed and written to
``--json`` (``mhexplain.scoring.shift``).

The file and the table it becomes: ``mhexplain.scoring.files``. Under ``accelerate launch -m
mhexplain.score ...`` every process scores every P-th chunk (on its own GPU where there are
several) and the first process puts them together.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mhexplain.cli.args import group, option, parse
from mhexplain.cli.command import run_command
from mhexplain.cli.evaluate import report_shift
from mhexplain.cli.options import CsvInput, ModelsOptions
from mhexplain.core.outputs import check_output_file, write_atomic
from mhexplain.core.progress import Progress
from mhexplain.core.textsafe import printable
from mhexplain.preprocess import parallel
from mhexplain.scoring.files import file_columns, score_file
from mhexplain.scoring.inputs import TEXT_COLUMN, TITLE_COLUMN
from mhexplain.scoring.shift import (
    file_report,
    read_back,
    shares_table,
    shift_reference,
    training_shares,
)
from mhexplain.trust.shift import Sample

PROG = "python -m mhexplain.score"


@dataclass
class ScoreSettings:
    source: CsvInput = group(CsvInput, title="input")
    out: Path = option(help="the predictions CSV to write")
    text_col: str | None = option(None, f"the column of the post's text (default: the one the models were trained "
                                        f"on, else {TEXT_COLUMN!r})", empty=False)
    title_col: str | None = option(None, f"the column of the post's title ('' for none; default: the one the models "
                                         f"were trained on, else {TITLE_COLUMN!r}, used only where the file has it, "
                                         "as on the Batch page)")
    id_col: str | None = option(None, "a column copied into the output to join on")
    json: Path | None = option(None, "write the file's summary here: rows, each model's predicted-class shares beside "
                                     "the training data's, and whether the file is unlike the training data (shift)")
    models: ModelsOptions = group(ModelsOptions, title="models")

    def problems(self) -> list[str]:
        return [] if self.text_col is None or self.text_col.strip() else ["--text-col names no column"]


@dataclass
class Scored:
    rows: int
    models: list[str]
    rank: int
    world: int
    summary: dict | None = None  # the first process's ``shift.file_report``


def _distributed():
    """accelerate's process state under ``accelerate launch`` with several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch  # heavy and optional: only a launch of several processes needs them
    from accelerate import PartialState

    # On a machine without CUDA, accelerate makes a group of CPU processes only when told to.
    return PartialState(cpu=not torch.cuda.is_available())


def _shared_value(state):
    """Under several processes, a function giving every process the first process's value."""
    if state is None:
        return None
    from accelerate.utils import broadcast_object_list  # optional, as in _distributed

    return lambda value: broadcast_object_list([value])[0]


def trained_columns(infos, text_col: str | None, title_col: str | None) -> tuple[str, str]:
    """The text and title columns to read: as given, else those the models were trained on (when
    they share one pair), else ``text`` and ``title``. A title given as '' reads none."""
    trained = {(cols.get("text"), cols.get("title"))
               for cols in ((((i.manifest or {}).get("data") or {}).get("columns") or {}) for i in infos)}
    trained_text, trained_title = trained.pop() if len(trained) == 1 else (None, None)
    text = text_col or trained_text or TEXT_COLUMN
    if title_col is not None:
        return text, title_col
    if trained_text and text_col is None:  # the models' own layout: their title, or none
        return text, trained_title or ""
    return text, TITLE_COLUMN


def score(s: ScoreSettings) -> Scored:
    """Check the file's header and the output path, then load the models and write the table."""
    state = _distributed()
    rank, world = (state.process_index, state.num_processes) if state else (0, 1)
    data = s.source.data
    infos = s.models.select()
    text_col, title_col = trained_columns(infos, s.text_col, s.title_col)
    columns = file_columns(data, text_col, title_col or None, s.id_col)  # its header, before anything else
    models_dir = (s.models.models_dir,)
    check_output_file(s.out, "--out", inputs=(data,), protected=models_dir)
    if s.json:
        check_output_file(s.json, "--json", inputs=(data,), outputs={"--out": s.out}, protected=models_dir)
    models = s.models.load()
    reference = shift_reference(infos)
    sample = Sample()
    jobs = max(1, (os.cpu_count() or 1) // world)  # the cores, shared among this machine's processes
    try:
        with parallel(jobs), Progress("scoring", "row", enabled=rank == 0) as bar:
            n = score_file(models, data, s.out, *columns, s.source.chunk_size, bar.update, rank, world,
                           state.wait_for_everyone if state else None, _shared_value(state), reference, sample)
    finally:
        if state is not None:  # leave the group before exiting, as training does
            state.destroy_process_group()
    summary = summarise(s, models, reference, training_shares(infos), n, sample) if rank == 0 else None
    return Scored(n, list(models), rank, world, summary)


def summarise(s: ScoreSettings, models: dict, reference, training: dict | None, rows: int, sample: Sample) -> dict:
    """The written file's summary (its shares and similarities read back from it, so every
    process's rows count; the posts the shift test compares drawn while scoring), to ``--json``."""
    labels_of = {n: tuple(m.labels) for n, m in models.items()}
    similarity, predicted = read_back(s.out, labels_of, reference is not None, s.source.chunk_size)
    summary = {"file": s.source.data.name, "rows": rows, "models": list(models),
               **file_report(sample, similarity, predicted, labels_of, reference, training)}
    if s.json:
        write_atomic(s.json, json.dumps(summary, indent=2))
    return summary


def main(argv=None) -> int:
    s = parse(ScoreSettings, argv, PROG, __doc__.splitlines()[0])
    t0 = time.perf_counter()

    def report(done: Scored) -> None:
        if done.rank == 0:
            print(f"{done.rows:,} rows scored{' by this process' if done.world > 1 else ''} with "
                  f"{', '.join(done.models)} in {time.perf_counter() - t0:.1f} s -> {printable(s.out)}")
            report_summary(done.summary)

    return run_command(lambda: score(s), report, writing=[s.out, s.json])


def report_summary(summary: dict) -> None:
    """The shift verdict in one line; when shift is detected, the predicted-class shares beside the
    training data's, which is where it shows in the predictions."""
    report_shift(summary["shift"])
    table = shares_table(summary)
    if summary["shift"]["detected"] and table is not None:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.0%}"))


if __name__ == "__main__":
    sys.exit(main())
