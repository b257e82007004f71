"""Which LIME and SHAP settings converge fastest: comprehensiveness at a budget and at 4x it.

The same random test posts as bench/explain.py (seed 0), each explained toward its predicted
class. One line per setting: mean comprehensiveness at the budget and at 4x, their ratio, and
seconds per explanation at the budget (p50 / max).

    python bench/explain_settings.py [--models-dir models] [--model bert] [--posts 8] [--budget 1000]
                                     [--settings lime:positions:25,lime:types:flat,shap:empty,...]

A setting is ``lime:FEATURES:WIDTH`` (FEATURES types|positions, WIDTH a number or ``flat``) or
``shap:CONTEXT`` (empty|full|both), optionally with ``:bsN`` for SHAP's masks per model call.
"""
from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass

import _proc  # noqa: F401 (puts the project on sys.path)
import numpy as np

from mhexplain.artifacts.folder import read_predictions
from mhexplain.artifacts.registry import load_classifier
from mhexplain.classifiers.catalog import MODEL_NAMES
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsFolder
from mhexplain.explain import explain

SETTING = re.compile(r"(lime:(types|positions):(flat|\d+(\.\d*)?)|shap:(empty|full|both))(:bs[1-9]\d*)?")
DEFAULT_SETTINGS = ("lime:positions:25", "lime:positions:75", "lime:types:25", "lime:types:flat",
                    "shap:both", "shap:both:bs256", "shap:empty", "shap:full")


@dataclass
class Settings:
    folder: ModelsFolder = group(ModelsFolder, "models")
    model: str = option("bert", "the model explained", choices=MODEL_NAMES)
    posts: int = option(8, "random test posts (seed 0)", min=1)
    budget: int = option(1000, "evaluations per explanation (and 4x that)", min=10)
    settings: tuple[str, ...] = option(DEFAULT_SETTINGS, "comma-separated settings, each as described above")

    def problems(self) -> list[str]:
        wrong = [x for x in self.settings if not SETTING.fullmatch(x)]
        return [f"--settings: {', '.join(wrong)}: write lime:FEATURES:WIDTH or shap:CONTEXT, optionally :bsN"] \
            if wrong else []


def parse_setting(setting: str) -> tuple[str, dict, int | None]:
    parts = setting.split(":")
    bs = None
    if parts[-1].startswith("bs"):
        bs = int(parts.pop()[2:])
    if parts[0] == "lime":
        width = None if parts[2] == "flat" else float(parts[2])
        return "lime", {"lime_features": parts[1], "lime_kernel_width": width}, bs
    return "shap", {"shap_context": parts[1]}, bs


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    clf = load_classifier(a.folder.models_dir / a.model)
    preds = read_predictions(a.folder.models_dir / a.model)
    rng = np.random.default_rng(0)
    texts = [preds["text"].iloc[i] for i in rng.permutation(len(preds))[:a.posts]]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; model {a.model}; {len(texts)} test posts; "
          f"budget {a.budget} and {4 * a.budget}", flush=True)
    explain(clf, texts[0], "shap", budget=20)  # warm-up
    for setting in a.settings:
        method, kw, bs = parse_setting(setting)
        batch_size = getattr(clf, "batch_size", None)
        if bs is not None:  # SHAP sends the model's batch size per call in context "both"
            clf.batch_size = bs
        try:
            comp, comp4, secs = [], [], []
            for t in texts:
                e = explain(clf, t, method, budget=a.budget, **kw)
                e4 = explain(clf, t, method, budget=4 * a.budget, **kw)
                comp.append(e.faithfulness["comprehensiveness"])
                comp4.append(e4.faithfulness["comprehensiveness"])
                secs.append(e.seconds)
        finally:
            if bs is not None:
                clf.batch_size = batch_size
        c, c4 = float(np.mean(comp)), float(np.mean(comp4))
        print(f"{setting:22s} comprehensiveness {c:.3f} at {a.budget}, {c4:.3f} at {4 * a.budget}, "
              f"ratio {c / c4:.2f}; {np.percentile(secs, 50):.2f} s p50, {max(secs):.2f} s max", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
