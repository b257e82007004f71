"""External validation at scale: rows/s and peak memory of `python -m mhexplain.evaluate` as the file grows.

Writes labelled CSVs of generated posts (words of the tests' synthetic classes, never the dataset)
of each size, then runs the CLI on each as a new process and prints its rows/s and peak RSS.

    python bench/evaluate_scale.py [--models-dir models] [--models nb,lr] [--rows 10000,100000]
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
from _proc import run_cli

ROOT = Path(__file__).resolve().parents[1]


def write_file(path: Path, rows: int, seed: int = 0, length: tuple[int, int] = (20, 120)) -> None:
    from tests.helpers import CLASS_WORDS, FILLER

    rng = np.random.default_rng(seed)
    names = {0: "Stress", 1: "Depression", 2: "Bipolar", 4: "Anxiety"}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "body", "label"])
        for i in range(rows):
            k = list(names)[i % len(names)]
            words = rng.choice(CLASS_WORDS[k] + FILLER * 3, int(rng.integers(*length)))
            w.writerow([i, "post", " ".join(words), names[k]])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models-dir", default=os.environ.get("MHX_MODELS_DIR", "models"))
    p.add_argument("--models", default="nb,lr")
    p.add_argument("--rows", default="10000,100000")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mhx-evaluate-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; models {a.models}")
    for n in (int(x) for x in a.rows.split(",")):
        data = tmp / f"ext-{n}.csv"
        write_file(data, n)
        cmd = [sys.executable, "-m", "mhexplain.evaluate", "--models-dir", a.models_dir, "--models", a.models,
               "--data", str(data), "--text-col", "body", "--title-col", "title", "--label-col", "label",
               "--label-map", "Stress=stress,Depression=depression,Bipolar=bipolar,Anxiety=anxiety"]
        r = run_cli(cmd, r"\(([\d.]+) s\)")
        inner = r["inner_seconds"]
        print(f"{n:>7,} rows ({data.stat().st_size / 2**20:.1f} MiB): process {r['seconds']:.1f} s, "
              f"{n / r['seconds']:,.0f} rows/s whole process ({n / inner:,.0f} rows/s after start-up); "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB")
        data.unlink()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
