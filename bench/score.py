"""Files of many rows: rows/s and peak memory of `python -m mhexplain.score` and `mhexplain.evaluate`.

The input is what users score: the dataset's own posts (title and body as written), repeated
in order until the file has the asked-for number of rows, written to a temporary folder and
deleted afterwards. Each copy's title ends with its row number, which NB/LR preprocessing deletes
(it keeps letters only) but which makes every row a new text, so no copy is served from the
per-process preprocessing memo: the figures are those of a file of distinct posts. Each CLI runs as a new process, a model at a time; the script prints rows/s
and the peak RSS of the whole process tree. Flat memory shows as the same peak at 10x the rows.

    python bench/score.py [--cli score,evaluate] [--models-dir models] [--models nb,lr,bert]
        [--rows 10000,100000] [--bert-rows 1000,4000] [--data PATH]
"""
from __future__ import annotations

import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from _proc import Dataset, run_cli

from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsOptions
from mhexplain.datasets.dataset import KAGGLE_LABELS

# the benchmark's posts are the Kaggle file's (see _proc.Dataset), labelled 0-4
LABEL_MAP = ",".join(f"{i}={name}" for i, name in enumerate(KAGGLE_LABELS))
# What each CLI prints about its own work (start-up and model loading left out), and its options.
CLIS = {
    "score": (r"in ([\d.]+) s ->", lambda out: ["--out", str(out)]),
    "evaluate": (r"\(([\d.]+) s\)", lambda out: ["--label-col", "label", "--label-map", LABEL_MAP]),
}


@dataclass
class Settings:
    cli: tuple[str, ...] = option(("score",), "the commands timed, comma-separated", choices=tuple(CLIS))
    models: ModelsOptions = group(ModelsOptions, "models")
    rows: tuple[int, ...] = option((10_000, 100_000), "file sizes for NB and LR")
    bert_rows: tuple[int, ...] = option((1000, 4000), "file sizes for BERT (CPU: about 25 posts/s)")
    dataset: Dataset = group(Dataset, "the dataset whose posts are repeated")

    def problems(self) -> list[str]:
        return [] if min(self.rows + self.bert_rows, default=1) > 0 else ["--rows and --bert-rows must be positive"]


def write_real_posts(data: Path, path: Path, rows: int) -> float:
    """The dataset's posts repeated to ``rows`` rows (columns id, title, body, label); returns the
    mean post length in characters."""
    posts = pd.read_csv(data, keep_default_na=False)[["title", "text", "target"]]
    reps = -(-rows // len(posts))
    out = pd.concat([posts] * reps, ignore_index=True).iloc[:rows]
    out = out.rename(columns={"text": "body", "target": "label"})
    out.insert(0, "id", range(rows))
    out["title"] = out["title"] + " " + out["id"].astype(str)
    out.to_csv(path, index=False)
    return float((out["title"].str.len() + out["body"].str.len()).mean())


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    models_dir, names = a.models.models_dir, [m.name for m in a.models.select()]
    tmp = Path(tempfile.mkdtemp(prefix="mhx-score-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"models folder {models_dir}; posts from {a.dataset.data.name}")
    files: dict[int, Path] = {}
    for cli in a.cli:
        pattern, extra = CLIS[cli]
        for model in names:
            for n in a.bert_rows if model == "bert" else a.rows:
                if n not in files:
                    files[n] = tmp / f"posts-{n}.csv"
                    mean_chars = write_real_posts(a.dataset.data, files[n], n)
                    print(f"{n:,} rows: {files[n].stat().st_size / 2**20:.1f} MiB, mean post {mean_chars:,.0f} characters")
                out = tmp / "pred.csv"
                cmd = [sys.executable, "-m", f"mhexplain.{cli}", "--models-dir", str(models_dir), "--models", model,
                       "--data", str(files[n]), "--text-col", "body", "--title-col", "title", *extra(out)]
                r = run_cli(cmd, pattern)
                print(f"{cli:8} {model:4} {n:>7,} rows: process {r['seconds']:.1f} s, "
                      f"{n / r['seconds']:,.0f} rows/s whole process ({n / r['inner_seconds']:,.0f} rows/s after "
                      f"loading); peak RSS {r['peak_rss_mib']:.0f} MiB")
                out.unlink(missing_ok=True)
    for f in files.values():
        f.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
