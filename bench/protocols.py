"""NB and LR under both evaluation protocols on the real data: the table in docs/BENCHMARKS.md.

    python bench/protocols.py [--data PATH] [--repeats 5]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _proc import default_data  # noqa: E402

from mhexplain.cli.train import parse_args, run  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=default_data())
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        for protocol in ("reference", "leakage-free"):
            reps = "1" if protocol == "reference" else str(a.repeats)
            cfg = parse_args(["--data", a.data, "--out", f"{tmp}/{protocol}", "--protocol", protocol,
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
            import json

            man = json.loads((Path(tmp) / protocol / "nb" / "manifest.json").read_text())
            print("   cleaning:", man["cleaning"])
            print("   split:", {k: v for k, v in man["split"].items() if k != "test_post_ids_sha256"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
