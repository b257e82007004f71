"""NB and LR under both evaluation protocols on the real data: the table in docs/BENCHMARKS.md.

    python bench/protocols.py [--data PATH] [--repeats 5]
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _proc import Dataset

from mhexplain.cli.args import option, parse
from mhexplain.cli.train import parse_args
from mhexplain.training.api import run


@dataclass
class Settings(Dataset):
    repeats: int = option(5, "split seeds of the leakage-free protocol (mean ± sd)", min=1)


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        for protocol in ("reference", "leakage-free"):
            reps = "1" if protocol == "reference" else str(a.repeats)
            cfg = parse_args(["--data", str(a.data), "--out", f"{tmp}/{protocol}", "--protocol", protocol,
                              "--repeats", reps])
            res = run(cfg)
            print(f"\n## {protocol} (seed {cfg.seed})")
            for name, m in res.items():
                line = (f"{name}: macro-F1 {m['macro_f1']:.3f} [{m['macro_f1_ci'][0]:.3f}, {m['macro_f1_ci'][1]:.3f}]"
                        f"  accuracy {m['accuracy']:.3f}  kappa {m['cohen_kappa']:.3f}  n_test {m['n_test']}"
                        f"  overlap {m['train_test_overlap']}")
                print(line)
                if "best" in m:
                    print(f"   LR grid winner: {m['best']['solver']} C={m['best']['C']} "
                          f"(CV macro-F1 {m['best']['cv_macro_f1_mean']:.3f})")
                if "seed_repeats" in m:
                    r = m["seed_repeats"]
                    vals = ", ".join(f"{s}:{v:.3f}" for s, v in zip(r["seeds"], r["macro_f1"]))
                    print(f"   over seeds {vals}  ->  {r['mean']:.3f} ± {r['sd']:.3f} (min {min(r['macro_f1']):.3f})")
            man = json.loads((Path(tmp) / protocol / "nb" / "manifest.json").read_text())
            print("   cleaning:", man["cleaning"])
            print("   split:", {k: v for k, v in man["split"].items() if k != "test_post_ids_sha256"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
