"""Trust figures of a models folder: calibration before/after, abstention on the test set, the probe.

For every model: macro-F1, ECE (15 bins) before and after calibration with bootstrap 95% intervals,
Brier score, log loss, the temperature, the abstention threshold and what it does on the test set;
then the shortcut probe (time included) on the same models.

    python bench/trust.py --models-dir models [--no-probe]
"""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass

import _proc  # noqa: F401 (puts the project on sys.path)

from mhexplain.artifacts.folder import verify_artifact
from mhexplain.artifacts.registry import discover, load_classifier
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsFolder
from mhexplain.evaluation.compare import load_results, operating_points
from mhexplain.evaluation.probe import VARIANTS, probe_folder


@dataclass
class Settings:
    folder: ModelsFolder = group(ModelsFolder, "models")
    probe: bool = option(True, "run the shortcut probe on the same models")


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    models_dir = a.folder.models_dir
    results = [load_results(m.path, verify_artifact(m.path)) for m in discover(models_dir) if m.ok]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {models_dir}")
    points = operating_points(results).set_index("model")
    for r in results:
        m, cal = r.metrics, r.manifest["calibration"]
        pt = points.loc[r.name]
        mask = r.manifest.get("masking")
        print(f"{r.name}{' (masked)' if mask else ''}: macro-F1 {m['macro_f1']:.3f}; ECE {m['ece']:.3f} "
              f"[{m['ece_ci'][0]:.3f}, {m['ece_ci'][1]:.3f}], before calibration {m['ece_uncalibrated']:.3f} "
              f"[{m['ece_uncalibrated_ci'][0]:.3f}, {m['ece_uncalibrated_ci'][1]:.3f}]; Brier {m['brier']:.3f}; "
              f"log loss {m['log_loss']:.3f} (raw {m['log_loss_uncalibrated']:.3f}); mean confidence "
              f"{m['mean_confidence']:.3f} vs accuracy {m['accuracy']:.3f}; T {cal['temperature']:.3f} "
              f"fitted on {cal['fitted_on']}")
        print(f"    abstains below {cal['threshold']:.3f} (target {cal['target_accuracy']:.2f}): answers "
              f"{pt['coverage']:.1%} of test posts at accuracy {pt['accuracy answered']:.3f} "
              f"(all posts: {pt['accuracy all']:.3f}); held out: coverage {cal.get('coverage') or 0:.1%}, accuracy lower "
              f"bound {pt['held-out lower bound']:.3f} at delta {pt['δ']}")
        if "ece_floor" in m:
            print(f"    ECE floor (perfect calibration on as many posts): mean {m['ece_floor']['mean']:.3f}, "
                  f"95th percentile {m['ece_floor']['p95']:.3f}")
    for r in results:  # what calibration costs a prediction: the same posts, raw and calibrated
        if r.manifest["kind"] != "sklearn":
            continue
        clf = load_classifier(models_dir / r.name)
        texts = r.predictions["text"].tolist()[:300]
        clf.raw_proba(texts)  # warm the preprocessing memo so both timings score cached text
        times = {}
        for label, fn in (("raw", clf.raw_proba), ("calibrated", clf.predict_proba)):
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                fn(texts)
                runs.append(time.perf_counter() - t0)
            times[label] = sorted(runs)[2]
        print(f"{r.name}: 300 test posts (preprocessing cached) raw {times['raw'] * 1e3:.1f} ms, calibrated "
              f"{times['calibrated'] * 1e3:.1f} ms (median of 5)")
    if a.probe:
        t0 = time.perf_counter()
        res = probe_folder(models_dir, (), seed=0)
        print(f"probe: {time.perf_counter() - t0:.1f} s for {', '.join(r['model'] for r in res)} "
              f"(models loaded and every variant scored); "
              f"{res[0]['posts_with_condition_word']} of {res[0]['n_posts']} test posts name a condition")
        for r in res:
            f = [r["variants"][v]["macro_f1"] for v in VARIANTS]
            rec = {v: r["variants"][v]["recall"] for v in VARIANTS}
            print(f"    {r['model']}: {f[0]:.3f} as written, {f[1]:.3f} without condition words, {f[2]:.3f} without "
                  f"random words ({r['seconds']:.1f} s); recall stress {rec[VARIANTS[0]]['stress']:.2f} -> "
                  f"{rec[VARIANTS[1]]['stress']:.2f}, anxiety {rec[VARIANTS[0]]['anxiety']:.2f} -> "
                  f"{rec[VARIANTS[1]]['anxiety']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
