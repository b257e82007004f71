"""python -m train --data PATH [--models nb,lr,bert] [--out DIR] [--protocol P] [--seed S] ..."""
from __future__ import annotations

import dataclasses
import logging
import os
import sys

from mhexplain.cli.args import parse
from mhexplain.cli.command import run_command
from mhexplain.core.textsafe import printable
from mhexplain.evaluation.agreement import agreement_summary
from mhexplain.training.api import run
from mhexplain.training.config import TrainConfig

logger = logging.getLogger("mhexplain.train")


def parse_args(argv=None) -> TrainConfig:
    return parse(TrainConfig, argv, "python -m train", "Train mhexplain's classifiers.")


class PrintableFormatter(logging.Formatter):
    """Log lines quote the user's paths (--data, --out): a control character in a name is shown
    as an escape, never sent to the terminal to act."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _log_handler() -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    return handler


def main(argv=None) -> int:
    # Under a distributed launcher (RANK set), the first process alone logs progress.
    quiet = int(os.environ.get("RANK", "0") or 0) > 0
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, handlers=[_log_handler()])
    cfg = dataclasses.replace(parse_args(argv), first_process=not quiet)
    existed = {m for m in cfg.models if (cfg.out / m).is_dir()}
    return run_command(lambda: run(cfg), lambda results: report(cfg, results, existed))


def report(cfg: TrainConfig, results: dict, existed: set[str]) -> None:
    for name, m in results.items():
        line = f"{name}: macro-F1 {m['macro_f1']:.3f} (95% CI {m['macro_f1_ci'][0]:.3f}-{m['macro_f1_ci'][1]:.3f})"
        line += f" -> {printable(cfg.out / name)}" + (" (replaced the model that was there)" if name in existed else "")
        if "seed_repeats" in m:
            r = m["seed_repeats"]
            line += f"; over {len(r['seeds'])} split seeds {r['mean']:.3f} ± {r['sd']:.3f}"
        print(line)
        if "coder_agreement" in m:  # the question a coder asks: is the model as reliable as a second coder?
            print("  " + printable(agreement_summary(m["coder_agreement"], name)))


if __name__ == "__main__":
    sys.exit(main())
