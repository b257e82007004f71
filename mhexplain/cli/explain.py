"""Explain one post's prediction: the words that pushed the model toward a class, by LIME, SHAP or exactly.

    python -m mhexplain.explain [--models-dir DIR] --model lr --method shap [--json F] [--html F] "post text"

The post is read as every way in reads it (``scoring.inputs``: cleaned, and cut where the models
stop reading, with a note). Prints the predicted class and the top words with their weights; writes JSON/HTML on request.
How an explanation is made is set by ``ExplainSettings``, whose fields are the options of the
group "explanation settings" (their wording for the command line is here, their meaning there).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from mhexplain.artifacts import registry
from mhexplain.classifiers.catalog import MODEL_NAMES
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.command import run_command
from mhexplain.cli.options import ModelsFolder
from mhexplain.core.classifier import MAX_POST_CHARS
from mhexplain.core.errors import ConfigError, InputTextError
from mhexplain.core.labels import numbered
from mhexplain.core.outputs import check_output_file, write_atomic
from mhexplain.core.textsafe import printable
from mhexplain.datasets.split import MAX_SEED
from mhexplain.explain.engine import (
    LIME_FEATURES,
    MAX_BUDGET,
    METHODS,
    MIN_BUDGET,
    SHAP_CONTEXTS,
    ExplainSettings,
    explain,
)
from mhexplain.explain.result import Explanation
from mhexplain.scoring.inputs import model_input

PROG = "python -m mhexplain.explain"
# UTF-8 takes at most four bytes a character: more than this is over the post limit for certain.
_MAX_STDIN_BYTES = 4 * MAX_POST_CHARS

SETTINGS_WORDING = {
    "budget": {"help": f"model evaluations for LIME/SHAP, {MIN_BUDGET} to {MAX_BUDGET:,} (default: the model's)",
               "min": MIN_BUDGET, "max": MAX_BUDGET},
    "seed": {"help": "seed of LIME's samples and SHAP's masks", "min": 0, "max": MAX_SEED},
    "max_units": {"help": "words explained at most", "min": 1},
    "shap_context": {"help": "words present while SHAP weighs a group: empty (default), full, or both (slower)",
                     "choices": tuple(SHAP_CONTEXTS)},
    "lime_features": {"help": "LIME features: one per distinct word (types, default) or per occurrence",
                      "choices": LIME_FEATURES},
    "lime_kernel_width": {"help": "LIME's exponential kernel width (LIME's default: 25); default: a flat kernel"},
    "with_faithfulness": {"cli": False},  # every explanation printed carries its faithfulness
}


@dataclass
class ExplainCommand:
    text: str = option(help="the post to explain ('-' reads standard input)", positional=True)
    folder: ModelsFolder = group(ModelsFolder, title="models")
    model: str = option("lr", "the model to explain", choices=MODEL_NAMES)
    method: str = option("shap", "lime, shap, or linear (exact, for the linear models: NB, LR, ngram)", choices=METHODS)
    target: str | None = option(None, "the class to explain: one of the model's class names, or its id 0..K-1 "
                                      "(default: the predicted class)", empty=False)
    settings: ExplainSettings = group(ExplainSettings, title="explanation settings", fields=SETTINGS_WORDING)
    top: int = option(10, "words printed", min=0)
    json: Path | None = option(None, "write the explanation as JSON here")
    html: Path | None = option(None, "write a self-contained HTML snippet here")


def read_stdin() -> str:
    """The post on standard input. Bytes that are not UTF-8 become U+FFFD, as they would in a
    browser, rather than stopping the command; past the length the models read, nothing is read."""
    if sys.stdin is None:
        raise InputTextError("There is no standard input to read the post from.")
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    raw = stream.read(_MAX_STDIN_BYTES)  # the rest is past what the models read: never read at all
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def from_argv(text: str) -> str:
    """The post as typed: Python keeps argv bytes that are not UTF-8 as lone surrogates, which no
    tokenizer accepts and no file or terminal can be written; they become U+FFFD, as from stdin."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that did not come from a byte (main() called from Python)
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", errors="replace")


def explain_post(c: ExplainCommand) -> tuple[Explanation, str]:
    """Check the output paths and the model folder, read the post, then load the model and explain."""
    models_dir = c.folder.models_dir
    for flag, path, other in (("--json", c.json, ("--html", c.html)), ("--html", c.html, ("--json", c.json))):
        if path:
            check_output_file(path, flag, outputs=dict([other]), protected=(models_dir,))
    registry.select_models(models_dir, [c.model])  # as every command reads a model name: one line if untrained
    text, note = model_input("", read_stdin() if c.text == "-" else from_argv(c.text))
    if not text:
        raise InputTextError("The post is empty: give some text to explain.")
    clf = registry.load_classifier(models_dir / c.model)
    exp = explain(clf, text, c.method, target=class_index(c.target, clf.labels), settings=c.settings)
    if c.json:
        write_atomic(c.json, exp.to_json())
    if c.html:
        write_atomic(c.html, f"<!doctype html><meta charset='utf-8'>{exp.to_html()}")
    return exp, note


def class_index(target: str | None, labels) -> int | None:
    """``--target`` as a class id of ``labels``: a class name (any case) or an id."""
    if target is None:
        return None
    wanted = target.strip()
    for k, label in enumerate(labels):
        if wanted.casefold() == label.casefold():
            return k
    if not numbered(labels) and wanted.isdecimal() and int(wanted) < len(labels):
        return int(wanted)
    shown = ", ".join(labels[:8]) + (", …" if len(labels) > 8 else "")
    ids = "" if numbered(labels) else f" nor a class id 0-{len(labels) - 1}"
    raise ConfigError(f"--target {wanted!r} is none of the model's classes ({shown}){ids}.")


def _evaluations(n: int) -> str:
    return f"{n:,} evaluation{'' if n == 1 else 's'}"


def report(explained: tuple[Explanation, str], method: str, top: int) -> None:
    exp, note = explained
    if note:
        print(f"The post was {note}, as the models read it.")
    print(f"{printable(exp.model)}: predicted {exp.labels[int(exp.proba.argmax())]} "
          f"(p={exp.proba.max():.3f}); explaining {exp.labels[exp.target]} with {method.upper()}, "
          f"{_evaluations(exp.n_evals)}, {exp.seconds:.2f} s")
    for note in (exp.member_note, exp.truncated, exp.unseen_note):
        if note:
            print(printable(note))
    for word, w in exp.top(top):
        print(f"  {w:+.4f}  {printable(word)}")
    if exp.faithfulness:
        f = exp.faithfulness
        print(f"faithfulness: comprehensiveness {f['comprehensiveness']:.3f}, sufficiency {f['sufficiency']:.3f}")


def main(argv=None) -> int:
    c = parse(ExplainCommand, argv, PROG, __doc__.splitlines()[0])
    return run_command(lambda: explain_post(c), lambda done: report(done, c.method, c.top), writing=[c.json, c.html])
