"""Scoring at scale: rows/s and peak memory of `python -m mhexplain.score`, a model at a time, as the file grows.

Writes CSVs of generated posts (words of the tests' synthetic classes, 20-300 words each, never
the dataset), runs the CLI on each as a new process and prints rows/s and the peak RSS of the
whole process tree. Flat memory shows as the same peak at 10x the rows.

    python bench/score.py [--models-dir models] [--models nb,lr,bert] [--rows 10000,100000]
        [--bert-rows 1000,4000]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from _proc import run_cli
from evaluate_scale import write_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models-dir", default=os.environ.get("MHX_MODELS_DIR", "models"))
    p.add_argument("--models", default="nb,lr,bert")
    p.add_argument("--rows", default="10000,100000", help="file sizes for NB and LR")
    p.add_argument("--bert-rows", default="1000,4000", help="file sizes for BERT (CPU: about 25 posts/s)")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mhx-score-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; models folder {a.models_dir}")
    files = {}
    for model in a.models.split(","):
        for n in (int(x) for x in (a.bert_rows if model == "bert" else a.rows).split(",")):
            if n not in files:
                files[n] = tmp / f"posts-{n}.csv"
                write_file(files[n], n, length=(20, 300))
            out = tmp / "pred.csv"
            cmd = [sys.executable, "-m", "mhexplain.score", "--models-dir", a.models_dir, "--models", model,
                   "--data", str(files[n]), "--text-col", "body", "--title-col", "title", "--out", str(out)]
            r = run_cli(cmd, r"in ([\d.]+) s ->")
            inner = r["inner_seconds"]
            print(f"{model:4} {n:>7,} rows ({files[n].stat().st_size / 2**20:.1f} MiB): process {r['seconds']:.1f} s, "
                  f"{n / r['seconds']:,.0f} rows/s whole process ({n / inner:,.0f} rows/s after loading); "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB; output {out.stat().st_size / 2**20:.1f} MiB")
            out.unlink()
    for f in files.values():
        f.unlink()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
