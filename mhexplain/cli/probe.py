"""The shortcut probe: how much of a model's score rests on the words that name the condition.

    python -m mhexplain.probe --models-dir DIR [--words FILE] [--json OUT] [--seed S] [--models nb,lr]

A model that cannot be loaded is named on standard error and the others are still probed; the
command then exits with status 1 (2 when nothing could be probed or the request is unusable).
``--json`` writes ``{"models": [one result per model probed], "failed": {model: why}}``. What is
measured: ``mhexplain.evaluation.probe``.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mhexplain.cli.args import group, option, parse
from mhexplain.cli.command import refuse, run_command
from mhexplain.cli.options import ModelsOptions
from mhexplain.core.outputs import check_output_file, write_atomic
from mhexplain.core.progress import Progress
from mhexplain.core.textsafe import printable
from mhexplain.datasets.split import MAX_SEED
from mhexplain.evaluation.probe import VARIANTS, probe_folder
from mhexplain.trust.shortcuts import read_word_list

PROG = "python -m mhexplain.probe"


@dataclass
class ProbeSettings:
    # text, not a path: "default" names the built-in list
    words: str | None = option(None, "a word list (one per line, * for prefixes) deleted besides the words of "
                                     "each model's label names (for the Kaggle file's five: a curated list)")
    seed: int = option(0, "seed of the random-deletion control", min=0, max=MAX_SEED)
    json: Path | None = option(None, "write the full results here")
    models: ModelsOptions = group(ModelsOptions, title="models")


@dataclass
class Probed:
    results: list[dict]
    failed: dict[str, str] = field(default_factory=dict)


def probe(s: ProbeSettings) -> Probed:
    """Read the word list and check the output path, then probe every model asked for that loads."""
    done = Probed([])
    words = read_word_list(s.words) if s.words not in (None, "", "default") else ()
    if s.json:
        check_output_file(s.json, "--json", protected=(s.models.models_dir,))
    with Progress("probing", "post") as bar:
        done.results = probe_folder(s.models.models_dir, words, s.seed, s.models.models, failed=done.failed,
                                    progress=bar)
    if s.json and done.results:
        write_atomic(s.json, json.dumps({"models": done.results, "failed": done.failed}, indent=2))
    return done


def report(done: Probed, models_dir: Path, t0: float) -> int:
    for name, why in done.failed.items():
        refuse(f"{name} was not probed: {why}")
    if not done.results:
        return 2 if done.failed else refuse(f"no trained model in {models_dir}")
    for r in done.results:  # models of different label sets delete different words
        words = ", ".join(r["words"][:8]) + (", …" if len(r["words"]) > 8 else "")
        if not r["words"]:
            print(f"{r['model']}: its class names hold no word to delete; give some with --words FILE")
            continue
        print(f"{r['model']}: {r['posts_with_condition_word']} of {r['n_posts']} test posts hold a word that names a "
              f"class ({r['condition_words_per_post']:.2f} per post; deleted: {printable(words)})")
    print(f"{'model':6} {'as written':>10} {'cond. del.':>10} {'random del.':>11}  drop  control")
    for r in done.results:
        f = {v: r["variants"][v]["macro_f1"] for v in VARIANTS}
        print(f"{r['model']:6} {f[VARIANTS[0]]:10.3f} {f[VARIANTS[1]]:10.3f} {f[VARIANTS[2]]:11.3f}  "
              f"{r['macro_f1_drop']:+.3f} {r['control_drop']:+.3f}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 1 if done.failed else 0


def main(argv=None) -> int:
    s = parse(ProbeSettings, argv, PROG, __doc__.splitlines()[0])
    t0 = time.perf_counter()
    return run_command(lambda: probe(s), lambda done: report(done, s.models.models_dir, t0), writing=[s.json])


if __name__ == "__main__":
    sys.exit(main())
