"""Recalibration to another source (``mhexplain.trust.recalibration``): ECE and answered accuracy
before and after, under cross-validation on a labelled sample of that source (what
``evaluate --recalibrate`` reports), and on the rest of the source, which the fit never saw.

    python bench/recalibration.py --models-dir models-rt2 --data data/vader-amazon.csv \\
        --text-col text --label-col label --label-map "positive=fresh,negative=rotten" [--sample 300]

The sample is ``--sample`` posts drawn at random (``--seed``) from the file's mapped rows; the
rest of them is the held-out remainder.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _proc  # noqa: F401 (puts the project on sys.path)
import numpy as np
import pandas as pd

from mhexplain.artifacts.registry import load_models
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsFolder
from mhexplain.evaluation.external import models_labels, parse_label_map, prepare_rows
from mhexplain.evaluation.recalibration import fit_variants
from mhexplain.scoring.table import predict
from mhexplain.trust.calibration import ece, ece_floor, scale


@dataclass
class Settings:
    data: Path = option(help="a labelled CSV from another source")
    text_col: str = option(help="its text column")
    label_col: str = option(help="its label column")
    label_map: str = option(help="its labels as the models' classes, as evaluate's --label-map")
    folder: ModelsFolder = group(ModelsFolder, "models")
    sample: int = option(300, "labelled posts the recalibration is fitted on", min=100)
    seed: int = option(0, "which posts are the sample")


def _answered(proba: np.ndarray, y: np.ndarray, threshold: float) -> str:
    conf, right = proba.max(1), proba.argmax(1) == y
    kept = conf >= threshold
    acc = f"{right[kept].mean():.3f}" if kept.any() else "  n/a"
    return f"answered {kept.mean():6.1%} at accuracy {acc}"


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    models = load_models(a.folder.models_dir)
    labels = models_labels(models)
    table = pd.read_csv(a.data, dtype=str, keep_default_na=False)
    inputs, y, _ = prepare_rows(None, table[a.text_col], table[a.label_col], parse_label_map(a.label_map, labels))
    order = np.random.default_rng(a.seed).permutation(len(y))
    fit, rest = order[:a.sample], order[a.sample:]
    print(f"{a.data.name}: {len(y):,} mapped posts; fitted on {len(fit):,}, the rest ({len(rest):,}) held out")
    proba = {n: predict(m, inputs) for n, m in models.items()}
    t0 = time.perf_counter()
    fitted = fit_variants(models, y[fit], {n: p[fit] for n, p in proba.items()})
    print(f"fitting and cross-validating {len(models)} models on {len(fit)} posts: {time.perf_counter() - t0:.2f} s")
    for name, f in fitted.items():
        cv = f["cross_validation"]
        factor, shown = f["temperature_factor"], proba[name][rest]
        after = scale(shown, factor)
        print(f"{name}: temperature x{factor:.2f}, threshold {models[name].abstention_threshold:.3f} -> "
              f"{f['threshold']:.3f} (target {f['target_accuracy']:.2f}, delta {f['delta']:.2f})")
        for when in ("before", "after"):
            m = cv[when]
            acc = "n/a" if m["answered_accuracy"] is None else f"{m['answered_accuracy']:.3f}"
            print(f"  {cv['folds']}-fold CV on the sample, {when:6s}: ECE {m['ece']:.3f} (floor {m['ece_floor']:.3f}), "
                  f"mean confidence {m['mean_confidence']:.3f}, accuracy {m['accuracy']:.3f}, answered "
                  f"{m['coverage']:6.1%} at accuracy {acc}")
        for when, p, threshold in (("before", shown, models[name].abstention_threshold), ("after", after,
                                                                                         f["threshold"])):
            print(f"  the held-out rest,        {when:6s}: ECE {ece(p, y[rest]):.3f} (floor "
                  f"{ece_floor(p)['mean']:.3f}), mean confidence {p.max(1).mean():.3f}, "
                  f"{_answered(p, y[rest], threshold)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
