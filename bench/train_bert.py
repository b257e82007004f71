"""Time a BERT fine-tune end to end (python -m train --models bert) with its peak memory.

    python bench/train_bert.py [--data PATH] [--protocol P] [--log FILE] [-- extra train args]

Prints wall time, peak RSS of the process tree, and the run's metrics (both long-text modes).
"""
from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from _proc import ROOT, TrainingRun, run_measured

from mhexplain.cli.args import option, parse_known
from mhexplain.settings import default_models_dir
from mhexplain.training.bert import processes


@dataclass
class Settings(TrainingRun):
    out: Path = option(default_models_dir, "models folder, as python -m train --out (default: the first of "
                                           "MHX_MODELS_DIR, else models)")
    log: Path = option(Path("logs/bert-train.log"), "the training's output, streamed here")


def main(argv=None) -> int:
    a, extra = parse_known(Settings, argv, description=__doc__.split("\n\n")[0])
    extra = [x for x in extra if x != "--"]  # the rest goes to python -m train
    a.log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "train", "--data", str(a.data), "--models", "bert", "--protocol", a.protocol,
           "--out", str(a.out), *extra]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; command: {' '.join(cmd)}", flush=True)
    r = run_measured(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT), log=str(a.log))
    print(f"exit {r['returncode']}; wall {r['seconds']:.0f} s ({r['seconds'] / 60:.1f} min); "
          f"peak RSS {r['peak_rss_mib']:.0f} MiB")
    if r["returncode"] != 0:
        print(r["output"][-3000:])
        return 1
    m = json.loads((a.out / "bert" / "metrics.json").read_text())
    man = json.loads((a.out / "bert" / "manifest.json").read_text())
    print(f"encoder {man['params']['encoder']}; train {man['train_seconds']:.0f} s, "
          f"best epoch {m['best_epoch']}")
    par = man["params"]
    print(f"training loop {par.get('train_loop_seconds', '?')} s at {par['train_samples_per_second']} samples/s "
          f"(device {par['device']}, precision {par['precision']}, {processes(par['processes'])}); validation "
          f"{par.get('validation_seconds', '?')} s apart; peak GPU memory "
          f"{par.get('peak_gpu_memory_mib', 'n/a (no GPU)')} MiB")
    for h in m["history"]:
        print(f"  epoch {h['epoch']}: loss {h['train_loss']:.4f}, val macro-F1 {h['val_macro_f1']:.4f}, "
              f"training {h['epoch_seconds']:.1f} s, validation {h.get('val_seconds', float('nan')):.1f} s, "
              f"lr at the end {h.get('lr', float('nan')):.2e}, batches per process {h.get('batches_per_process')}")
    print(f"test macro-F1 {m['macro_f1']:.4f} [{m['macro_f1_ci'][0]:.4f}, {m['macro_f1_ci'][1]:.4f}], "
          f"accuracy {m['accuracy']:.4f}, overlap {m['train_test_overlap']}")
    for mode, c in m["long_text_comparison"].items():
        print(f"  {mode}: macro-F1 {c['macro_f1']:.4f}, accuracy {c['accuracy']:.4f}")
    print(f"ECE {m['ece']:.4f} [{m['ece_ci'][0]:.4f}, {m['ece_ci'][1]:.4f}] (uncalibrated {m['ece_uncalibrated']:.4f} "
          f"[{m['ece_uncalibrated_ci'][0]:.4f}, {m['ece_uncalibrated_ci'][1]:.4f}]), temperature "
          f"{man['calibration']['temperature']:.3f}, abstain below {man['calibration']['threshold']:.3f}")
    print(f"test posts over max length: {m['test_posts_over_max_length']} of {m['n_test']}; "
          f"test scoring (both modes) {man['params']['test_eval_seconds_both_modes']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
