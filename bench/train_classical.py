"""Time the whole classical training (NB + grid-searched LR; ``--train-args "--models ngram"`` for
the n-gram baseline), first from an empty
preprocessing cache, then cached; print wall time, preprocessing throughput and peak memory of
the process tree.

    python bench/train_classical.py [--data PATH] [--protocol leakage-free|reference] [--runs N]
        [--train-args "--text-col body --label-col label ..."]

With ``--train-args``, any dataset ``python -m train`` reads: e.g. 100,000 posts from
``bench/generate_posts.py``.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _proc import ROOT, TrainingRun, run_measured

from mhexplain.cli.args import option, parse


@dataclass
class Settings(TrainingRun):
    runs: int = option(3, "cached runs after the first", min=0)
    train_args: str = option("", "more options for python -m train, as one string (the dataset's columns, say)")


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "train", "--data", str(a.data), "--protocol", a.protocol,
               "--out", f"{tmp}/models", "--cache-dir", f"{tmp}/cache", *shlex.split(a.train_args)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        rows = []
        for i in range(1 + a.runs):
            r = run_measured(cmd, env=env, cwd=str(ROOT))
            if r["returncode"] != 0:
                print(r["output"])
                return 1
            label = "first (empty cache)" if i == 0 else f"cached run {i}"
            rows.append((label, r["seconds"], r["peak_rss_mib"]))
            print(f"{label:22s} {r['seconds']:6.2f} s   peak RSS {r['peak_rss_mib']:7.1f} MiB (PSS "
                  f"{r['peak_pss_mib']:7.1f} MiB)   {stages(r['output'])}")
        cached = sorted(s for _, s, _ in rows[1:])
        if cached:
            print(f"cached median: {cached[len(cached) // 2]:.2f} s")
        print("last run's summary:", *[ln for ln in r["output"].splitlines() if re.match(r"\w+: macro-F1", ln)],
              sep="\n  ")
        for folder in sorted(p for p in Path(f"{tmp}/models").iterdir() if (p / "manifest.json").is_file()):
            man = json.loads((folder / "manifest.json").read_text())
            seconds = man["params"].get("calibration_seconds")
            calibration = f"calibration (out-of-fold fits + temperature) {seconds:.2f} s of the last run; " \
                if seconds is not None else ""
            print(f"{folder.name}: {calibration}ECE {man['metrics']['ece']:.3f}; trained in {man['train_seconds']:.1f} s"
                  + (f"; C = {man['params']['best']['C']}" if man["kind"] == "ngram" else ""))
    return 0


def stages(log: str) -> str:
    """The posts cleaned and how fast the preprocessing stage went, from the training log."""
    split = re.search(r"split \([a-z]+\): (\d+) train / (\d+) test", log)
    prep = re.search(r"preprocessing \(NLTK\) done in ([\d.]+) s", log)
    fit = re.search(r"fitting .* done in ([\d.]+) s", log)
    if not (split and prep):
        return ""
    posts = int(split.group(1)) + int(split.group(2))
    return (f"{posts:,} posts; preprocessing {float(prep.group(1)):.1f} s ({posts / max(float(prep.group(1)), 1e-9):,.0f} "
            f"posts/s){f'; fitting {float(fit.group(1)):.1f} s' if fit else ''}")


if __name__ == "__main__":
    sys.exit(main())
