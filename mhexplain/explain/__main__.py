"""python -m mhexplain.explain [--models-dir DIR] --model lr --method shap [--json F] [--html F] "post text"

Prints the predicted class and the top words with their weights; writes JSON/HTML on request.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mhexplain.classifiers.catalog import MODEL_NAMES
from mhexplain.core.classifier import MAX_POST_CHARS
from mhexplain.core.errors import ArtifactError, InputTextError, MhxError, train_command
from mhexplain.core.outputs import check_output_file, write_atomic
from mhexplain.core.textsafe import printable
from mhexplain.explain.engine import (
    DEFAULT_LIME_FEATURES,
    DEFAULT_LIME_KERNEL_WIDTH,
    DEFAULT_MAX_UNITS,
    DEFAULT_SHAP_CONTEXT,
    LIME_FEATURES,
    METHODS,
    SHAP_CONTEXTS,
    explain,
)
from mhexplain.settings import default_models_dir

# UTF-8 takes at most four bytes a character: more than this is over the post limit for certain.
_MAX_STDIN_BYTES = 4 * MAX_POST_CHARS


def read_stdin() -> str:
    """The post on standard input. Bytes that are not UTF-8 become U+FFFD, as they would in a
    browser, rather than stopping the command; a post longer than the limit is refused unread."""
    if sys.stdin is None:
        raise InputTextError("There is no standard input to read the post from.")
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    raw = stream.read(_MAX_STDIN_BYTES + 1)
    if len(raw) > _MAX_STDIN_BYTES:
        raise InputTextError(f"The post on standard input is longer than the limit of {MAX_POST_CHARS:,} characters.")
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def from_argv(text: str) -> str:
    """The post as typed: Python keeps argv bytes that are not UTF-8 as lone surrogates, which no
    tokenizer accepts and no file or terminal can be written; they become U+FFFD, as from stdin."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that did not come from a byte (main() called from Python)
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", errors="replace")


def _check_model(models_dir: Path, name: str) -> None:
    if not (models_dir / name).exists():
        raise ArtifactError(f"No {name} model in {models_dir}; train one with: {train_command(models_dir, [name])}")


def _check_outputs(a) -> None:
    for option, path in (("--json", a.json), ("--html", a.html)):
        if path:
            check_output_file(Path(path), option)


def _evaluations(n: int) -> str:
    return f"{n:,} evaluation{'' if n == 1 else 's'}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mhexplain.explain", description=__doc__.splitlines()[0])
    p.add_argument("text", help="the post to explain ('-' reads standard input)")
    p.add_argument("--models-dir", default=str(default_models_dir()))
    p.add_argument("--model", default="lr", choices=MODEL_NAMES)
    p.add_argument("--method", choices=METHODS, default="shap")
    p.add_argument("--target", type=int, help="class id to explain (default: the predicted class)")
    p.add_argument("--budget", type=int, help="model evaluations for LIME/SHAP (default: the model's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-units", type=int, default=DEFAULT_MAX_UNITS, help="words explained at most")
    p.add_argument("--shap-context", choices=list(SHAP_CONTEXTS), default=DEFAULT_SHAP_CONTEXT,
                   help="words present while SHAP weighs a group: empty (default), full, or both (slower)")
    p.add_argument("--lime-features", choices=list(LIME_FEATURES), default=DEFAULT_LIME_FEATURES,
                   help="LIME features: one per distinct word (types, default) or per occurrence")
    p.add_argument("--lime-kernel-width", type=float, default=DEFAULT_LIME_KERNEL_WIDTH,
                   help="LIME's exponential kernel width (LIME's default: 25); default: a flat kernel")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", help="write the explanation as JSON here")
    p.add_argument("--html", help="write a self-contained HTML snippet here")
    a = p.parse_args(argv)
    try:
        from mhexplain.artifacts.registry import load_classifier

        _check_outputs(a)
        _check_model(Path(a.models_dir), a.model)
        text = read_stdin() if a.text == "-" else from_argv(a.text)
        clf = load_classifier(Path(a.models_dir) / a.model)
        exp = explain(clf, text, a.method, target=a.target, budget=a.budget, seed=a.seed, max_units=a.max_units,
                      shap_context=a.shap_context, lime_features=a.lime_features,
                      lime_kernel_width=a.lime_kernel_width)
        if a.json:
            write_atomic(Path(a.json), exp.to_json())
        if a.html:
            write_atomic(Path(a.html), f"<!doctype html><meta charset='utf-8'>{exp.to_html()}")
    except MhxError as err:
        print(f"error: {printable(err)}", file=sys.stderr)
        return 2
    t = exp.target
    print(f"{printable(clf.name)}: predicted {exp.labels[int(exp.proba.argmax())]} "
          f"(p={exp.proba.max():.3f}); explaining {exp.labels[t]} with {a.method.upper()}, "
          f"{_evaluations(exp.n_evals)}, {exp.seconds:.2f} s")
    for note in (exp.truncated, exp.unseen_note):
        if note:
            print(printable(note))
    for word, w in exp.top(a.top):
        print(f"  {w:+.4f}  {printable(word)}")
    if exp.faithfulness:
        f = exp.faithfulness
        print(f"faithfulness: comprehensiveness {f['comprehensiveness']:.3f}, sufficiency {f['sufficiency']:.3f}")
    return 0


if __name__ == "__main__":
    # shap compiles its masking kernels with numba in every new process (about 5 s on 2 cores) for a
    # few milliseconds of work per explanation, so a one-shot command runs them as plain Python: the
    # same numbers (tests/test_explain.py compares them). Set before shap, and numba, are imported.
    os.environ.setdefault("NUMBA_DISABLE_JIT", "1")
    # shap imports matplotlib (a third of a second) only to offer plots; this command draws none,
    # and shap goes on without its plots when matplotlib cannot be imported.
    sys.modules.setdefault("matplotlib", None)
    sys.exit(main())
