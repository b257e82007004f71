"""Whole-process time of the explanation CLI, next to the explanation time it reports.

Runs `python -m mhexplain.explain` as a new process per call (as a user does) on real test posts,
for each model and method, and prints the process wall time (p50/max) and the explanation's own
seconds (what the CLI prints). The first call of all runs with an empty cache folder, so the
one-time cost of building the tagger cache is shown apart.

    python bench/explain_cli.py [--models-dir models] [--models nb,lr] [--methods shap,lime] [--posts 5]
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
from _proc import ROOT

from mhexplain.artifacts.folder import read_predictions
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsOptions
from mhexplain.explain.engine import METHODS


@dataclass
class Settings:
    models: ModelsOptions = group(ModelsOptions, "models", {"models": {"default": ("nb", "lr")}})
    methods: tuple[str, ...] = option(("shap", "lime"), "comma-separated", choices=METHODS)
    posts: int = option(5, "random test posts (seed 0) of the first model", min=1)


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    models_dir = a.models.models_dir.resolve()
    names = [m.name for m in a.models.select()]
    preds = read_predictions(models_dir / names[0])
    rng = np.random.default_rng(0)
    texts = [preds["text"].iloc[i] for i in rng.permutation(len(preds))[:a.posts]]
    env = {**os.environ, "MHX_CACHE_DIR": tempfile.mkdtemp(prefix="mhx-cli-bench-")}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {len(texts)} test posts "
          f"({int(np.median([len(t.split()) for t in texts]))} words median); a new process per call")

    def call(model: str, method: str, text: str) -> tuple[float, float]:
        # Timed with a plain clock: run_measured's memory sampler would share the 2 cores with the call.
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "mhexplain.explain", "--models-dir", str(models_dir), "--model",
                            model, "--method", method, text], env=env, cwd=str(ROOT), capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(r.stderr[-2000:])
        return seconds, float(re.search(r"evaluations?, ([\d.]+) s", r.stdout).group(1))

    first = call(names[0], a.methods[0], texts[0])
    print(f"first call, empty cache folder: process {first[0]:.2f} s, explanation {first[1]:.2f} s")
    print("model method  process p50  process max  explanation p50")
    for model in names:
        for method in a.methods:
            runs = [call(model, method, t) for t in texts]
            wall, inner = np.array([r[0] for r in runs]), np.array([r[1] for r in runs])
            print(f"{model:5} {method:6}  {np.median(wall):9.2f} s  {wall.max():9.2f} s  {np.median(inner):12.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
