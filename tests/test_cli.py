"""Every command line is generated from its settings dataclass (mhexplain.cli.args): each field type,
the options the commands share, the bounds refused before any work, and the flags the README shows."""
import importlib.util
import math
import re
import subprocess
import sys
from argparse import ArgumentTypeError
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import pytest

from mhexplain.artifacts import registry
from mhexplain.cli import evaluate, explain, probe, score, train
from mhexplain.cli.args import group, option, parse, parse_known, parser_for
from mhexplain.cli.args import problems as args_problems
from mhexplain.cli.command import run_command
from mhexplain.cli.evaluate import EvaluateSettings
from mhexplain.cli.explain import SETTINGS_WORDING, ExplainCommand
from mhexplain.cli.probe import ProbeSettings
from mhexplain.cli.score import ScoreSettings
from mhexplain.core.errors import ConfigError, DataError
from mhexplain.explain.engine import DEFAULT_MAX_UNITS, MAX_BUDGET, ExplainSettings
from mhexplain.training.config import TrainConfig

from .helpers import ROOT, synthetic_posts


@dataclass
class Inner:
    depth: int = option(3, "how deep", min=1)
    label: str | None = option(None, "a label")


@dataclass
class Needs:
    key: str = option(help="required inside a group")


@dataclass
class Everything:
    post: str = option(help="the text", positional=True)
    name: str = option(help="a required option")
    needs: Needs = group(Needs)  # a group with a required option is required: before the defaults
    count: int = option(2, "a count", min=0, max=5)
    ratio: float = option(0.5, "a ratio")
    where: Path = option(Path("out"), "a path")
    maybe: Path | None = option(None, "an optional path")
    loud: bool = option(False, "off unless asked")
    quiet: bool = option(True, "on unless refused")
    tags: tuple[str, ...] = option(("a", "b"), "a list")
    sizes: tuple[int, ...] = option((1,), "a list of numbers")
    colour: str = option("red", "one of two", choices=("red", "green"))
    mode: Literal["x", "y"] = option("x", "a Literal")
    kinds: tuple[str, ...] = option((), "a list of choices", choices=("p", "q"))
    hidden: int = option(7, "never on the command line", cli=False)
    renamed: str = option("v", "a flag that is not the field's name", flag="--other")
    mask: str | None = option(None, "a value or the flag alone", const="alone")
    inner: Inner = group(Inner, "the inner group", {"depth": {"default": 4}, "label": {"help": "said here"}})

    def problems(self) -> list[str]:
        return ["--name may not be 'bad'"] if self.name == "bad" else []


BASE = ["hello", "--name", "n", "--key", "k"]


def _refused(capsys, cls, argv) -> str:
    with pytest.raises(SystemExit) as stop:
        parse(cls, argv, "prog")
    assert stop.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_defaults_come_from_the_fields_and_the_group_overlay():
    s = parse(Everything, BASE)
    assert (s.post, s.name, s.count, s.ratio, s.where, s.maybe) == ("hello", "n", 2, 0.5, Path("out"), None)
    assert (s.loud, s.quiet, s.tags, s.sizes, s.colour, s.mode, s.kinds) == (False, True, ("a", "b"), (1,), "red",
                                                                               "x", ())
    assert (s.hidden, s.renamed, s.mask, s.inner, s.needs) == (7, "v", None, Inner(4, None), Needs("k"))


def test_every_field_type_reads_its_option():
    s = parse(Everything, BASE + ["--count", "5", "--ratio", "1e-3", "--where", "a/b", "--maybe", "c", "--loud",
                                  "--no-quiet", "--tags", " x, y,,z ", "--sizes", "1,20", "--colour", "green",
                                  "--mode", "y", "--kinds", "q,p", "--other", "w", "--mask", "--depth", "9",
                                  "--label", "L"])
    assert (s.count, s.ratio, s.where, s.maybe, s.loud, s.quiet) == (5, 1e-3, Path("a/b"), Path("c"), True, False)
    assert (s.tags, s.sizes, s.colour, s.mode, s.kinds) == (("x", "y", "z"), (1, 20), "green", "y", ("q", "p"))
    assert (s.renamed, s.mask, s.inner) == ("w", "alone", Inner(9, "L"))
    assert parse(Everything, BASE + ["--mask", "given", "--loud", "--no-loud"]).mask == "given"
    assert parse(Everything, BASE + ["--loud", "--no-loud"]).loud is False


def test_an_optional_text_or_path_given_empty_is_none():
    s = parse(Everything, BASE + ["--maybe", "", "--label", ""])
    assert s.maybe is None and s.inner.label is None
    assert parse(Everything, BASE + ["--name", ""]).name == ""  # a required text: kept as given


@dataclass
class Strict:
    where: Path = option(Path("out"), "a path that cannot be none")
    cache: Path | None = option(None, "none means a default, so empty may not", empty=False)
    words: str | None = option(None, "a text that may not be empty", empty=False, const="all")
    rate: float = option(0.5, "a float")
    odds: float = option(math.inf, "a float that may be infinite", finite=False)
    weights: tuple[float, ...] = option((1.0,), "a list of floats")


@pytest.mark.parametrize("argv", [["--where", ""], ["--where", "  "], ["--cache", ""], ["--words", ""]])
def test_an_empty_value_that_would_silently_mean_something_else_is_refused(capsys, argv):
    """`python -m train --out ''` wrote ./nb into the working folder; `--cache-dir ''` and
    `--mask-words ''` silently meant the default cache and no mask."""
    assert _refused(capsys, Strict, argv).endswith(f"error: argument {argv[0]}: expected a value, got an empty one")
    assert parse(Strict, ["--words"]).words == "all" and parse(Strict, ["--cache", "c"]).cache == Path("c")


@pytest.mark.parametrize("argv", [["--rate", "nan"], ["--rate", "inf"], ["--rate=-Infinity"],
                                  ["--weights", "1,nan"]])
def test_a_float_that_is_not_a_number_is_refused(capsys, argv):
    """nan passed every bound (each comparison with it is False): `--epochs nan` started training."""
    line = _refused(capsys, Strict, argv)
    assert "is not a finite number" in line and line.startswith("prog: error: argument "), line


def test_a_float_field_may_allow_infinity_and_a_value_set_in_code_is_checked_too():
    assert parse(Strict, ["--odds=-inf"]).odds == -math.inf and parse(Strict, []).odds == math.inf
    assert parse(Strict, ["--rate", "1e-3", "--weights", "0.5,2"]).weights == (0.5, 2.0)
    assert args_problems(Strict(rate=math.nan)) == ["--rate must be a finite number"]


def _float_options(parser) -> list[str]:
    """The options of ``parser`` that read a float."""
    found = []
    for action in parser._actions:
        try:
            value = action.type("1.5") if action.option_strings and callable(action.type) else None
        except (ValueError, TypeError, ArgumentTypeError):
            continue
        if isinstance(value, float):
            found.append(action.option_strings[0])
    return found


COMMANDS = [(TrainConfig, ["--data", "x.csv"]), (ExplainCommand, ["post"]), (ProbeSettings, []),
            (ScoreSettings, ["--data", "x.csv", "--out", "y.csv"]),
            (EvaluateSettings, ["--data", "x.csv", "--text-col", "t", "--label-col", "l", "--label-map", "a=0"])]


@pytest.mark.parametrize("cls, base", COMMANDS, ids=lambda c: getattr(c, "__name__", ""))
def test_every_float_option_of_every_command_refuses_nan_and_inf(cls, base, capsys):
    floats = _float_options(parser_for(cls))
    if cls in (TrainConfig, ExplainCommand):  # the test would pass vacuously if no option were found
        assert {"--epochs", "--lr", "--weight-decay", "--max-grad-norm", "--lime-kernel-width"} & set(floats)
    for flag in floats:
        for bad in ("nan", "inf", "-inf"):
            assert "is not a finite number" in _refused(capsys, cls, base + [f"{flag}={bad}"]), (flag, bad)


@pytest.mark.parametrize("argv, says", [
    (["hello", "--key", "k"], "the following arguments are required: --name"),
    (["--name", "n", "--key", "k"], "the following arguments are required: post"),
    (["hello", "--name", "n"], "the following arguments are required: --key"),
    (BASE + ["--colour", "blue"], "invalid choice: 'blue'"),
    (BASE + ["--mode", "z"], "invalid choice: 'z'"),
    (BASE + ["--kinds", "p,z"], "z: choose among p, q"),
    (BASE + ["--sizes", "1,x"], "invalid comma-separated int list value: '1,x'"),
    (BASE + ["--count", "x"], "invalid int value: 'x'"),
    (BASE + ["--count", "6"], "--count must be between 0 and 5"),
    (BASE + ["--count", "-1"], "--count must be between 0 and 5"),
    (BASE + ["--depth", "0"], "--depth must be at least 1"),
    (BASE + ["--hidden", "3"], "unrecognized arguments: --hidden 3"),
    (["hello", "--name", "bad", "--key", "k"], "--name may not be 'bad'"),
])
def test_what_cannot_work_is_one_error_line(capsys, argv, says):
    line = _refused(capsys, Everything, argv)
    assert line.startswith("prog: error: ") and says in line, line


def test_help_shows_each_option_with_its_default_and_groups():
    text = parser_for(Everything, "prog").format_help()
    for shown in ("--loud, --no-loud", "--quiet, --no-quiet", "a count (default 2)", "a list (default a,b)",
                  "{p,q},...", "--other", "the inner group:", "said here", "how deep (default 4)", "NEEDS:",
                  "{red,green}", "{x,y}"):
        assert shown in text, shown
    assert "--hidden" not in text


def test_parse_known_leaves_the_rest_for_another_command():
    s, rest = parse_known(Everything, BASE + ["--bert-model", "minilm"])
    assert s.name == "n" and rest == ["--bert-model", "minilm"]


def test_a_type_the_command_line_cannot_read_is_named():
    @dataclass
    class Odd:
        table: dict = option(dict, "no")

    with pytest.raises(TypeError, match="dict"):
        parser_for(Odd)


def test_a_bool_config_field_no_longer_breaks_the_generator():
    """The first generator looked types up in a table without bool: a KeyError."""
    @dataclass
    class WithBool:
        fast: bool = option(False, "go fast")

    assert parse(WithBool, ["--fast"]).fast is True and parse(WithBool, []).fast is False


def test_models_dir_is_declared_once_and_read_when_the_parser_is_built(monkeypatch, tmp_path):
    monkeypatch.setenv("MHX_MODELS_DIR", f"{tmp_path / 'first'}:{tmp_path / 'second'}")
    s = parse(ScoreSettings, ["--data", "x.csv", "--out", "y.csv", "--models", "nb,lr"])
    assert s.models.models_dir == tmp_path / "first" and s.models.models == ("nb", "lr")
    assert parse(ExplainCommand, ["post"]).folder.models_dir == tmp_path / "first"
    assert parse(ScoreSettings, ["--data", "x", "--out", "y", "--models-dir", "m"]).models.models_dir == Path("m")


def test_explains_options_are_explain_settings_fields():
    c = parse(ExplainCommand, ["post", "--budget", "40", "--seed", "3", "--max-units", "7", "--shap-context", "full",
                               "--lime-features", "positions", "--lime-kernel-width", "25"])
    assert c.settings == ExplainSettings(budget=40, seed=3, max_units=7, shap_context="full",
                                         lime_features="positions", lime_kernel_width=25.0)
    assert parse(ExplainCommand, ["post"]).settings == ExplainSettings()
    assert parse(ExplainCommand, ["post"]).settings.max_units == DEFAULT_MAX_UNITS
    assert "--with-faithfulness" not in parser_for(ExplainCommand).format_help()
    # a field added to ExplainSettings is a flag at once: it needs its wording here (or cli=False)
    assert set(SETTINGS_WORDING) == {f.name for f in fields(ExplainSettings)}




@pytest.mark.parametrize("main, argv, says", [
    (explain.main, ["post", "--max-units", "0"], "--max-units must be at least 1"),
    (explain.main, ["post", "--top", "-1"], "--top must be at least 0"),
    (explain.main, ["post", "--seed", "-1"], "--seed must be between 0 and 4294967295"),
    (explain.main, ["post", "--seed", str(2**32)], "--seed must be between 0 and 4294967295"),
    (score.main, ["--chunk-size", "0"], "--chunk-size must be at least 1"),
    (evaluate.main, ["--text-col", "t", "--label-col", "l", "--label-map", "a=0", "--chunk-size", "0"],
     "--chunk-size must be at least 1"),
    (probe.main, ["--seed", "-1"], "--seed must be between 0 and 4294967295"),
    (probe.main, ["--seed", str(10**20)], "--seed must be between 0 and 4294967295"),
    (train.main, ["--data", "x.csv", "--seed", "-1"], "--seed must be between 0 and 4294967295"),
    (train.main, ["--data", "x.csv", "--out", ""], "argument --out: expected a value, got an empty one"),
    (train.main, ["--data", "x.csv", "--epochs", "nan"], "argument --epochs: 'nan' is not a finite number"),
    (explain.main, ["post", "--budget", "100000000", "--method", "lime"], "--budget must be between 10 and 100000"),
    (explain.main, ["post", "--budget", "0"], "--budget must be between 10 and 100000"),
    (explain.main, ["post", "--lime-kernel-width", "nan"],
     "argument --lime-kernel-width: 'nan' is not a finite number"),
])
def test_new_bounds_are_refused_before_any_work(main, argv, says, tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the bounds were checked")

    monkeypatch.setattr(registry, "load_classifier", refuse)
    out = tmp_path / "out.csv"
    data = tmp_path / "in.csv"
    data.write_text("text,title\nx,y\n")
    extra = {score.main: ["--data", str(data), "--out", str(out)], evaluate.main: ["--data", str(data)],
             probe.main: ["--json", str(out)], explain.main: ["--json", str(out)],
             train.main: ["--out", str(tmp_path / "models")]}[main]
    models_dir = [] if main is train.main else ["--models-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as stop:
        main(models_dir + extra + argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"error: {says}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("change, says", [
    ({"budget": 0}, "evaluation budget"), ({"budget": 9}, "evaluation budget"),
    ({"budget": MAX_BUDGET + 1}, "evaluation budget"), ({"budget": 10**8}, "evaluation budget"),
    ({"budget": 500.5}, "evaluation budget"), ({"seed": -1}, "seed"), ({"seed": 2**32}, "seed"),
    ({"seed": True}, "seed"), ({"max_units": 0}, "max_units"), ({"lime_kernel_width": math.inf}, "kernel width"),
    ({"lime_kernel_width": math.nan}, "kernel width"),
])
def test_library_callers_get_the_command_lines_bounds(change, says):
    """`explain(..., budget=10**8)` ran for minutes at 5 GB, and budget 0 silently meant the model's default."""
    settings = ExplainSettings(**change)
    assert len(settings.problems()) == 1 and says in settings.problems()[0]
    with pytest.raises(ConfigError, match=re.escape(settings.problems()[0])):
        settings.checked(_BudgetOf(1000))


class _BudgetOf:
    def __init__(self, budget: int) -> None:
        self.explain_budget = budget


def test_settings_within_the_bounds_are_kept_and_none_is_the_models_budget():
    assert ExplainSettings(budget=None).checked(_BudgetOf(700)).budget == 700
    edges = ExplainSettings(budget=MAX_BUDGET, seed=2**32 - 1, max_units=1, lime_kernel_width=25)
    assert edges.problems() == [] and edges.checked(_BudgetOf(700)) == ExplainSettings(
        budget=MAX_BUDGET, seed=2**32 - 1, max_units=1, lime_kernel_width=25.0)
    with pytest.raises(ConfigError, match="model's own evaluation budget"):
        ExplainSettings().checked(_BudgetOf(MAX_BUDGET * 10))


def test_label_map_may_name_labels_the_file_lacks(trained_dir, tmp_path, capsys):
    df = synthetic_posts(per_class=6, seed=1)
    df["label"] = df["target"].map({0: "S", 1: "D", 2: "B", 3: "P", 4: "A"})
    df.to_csv(tmp_path / "labelled.csv", index=False)
    argv = ["--models-dir", str(trained_dir), "--data", str(tmp_path / "labelled.csv"), "--text-col", "text",
            "--label-col", "label", "--models", "nb"]
    assert evaluate.main(argv + ["--label-map", "A=anxiety,D=depression,Nowhere=stress"]) == 0
    assert "macro-F1" in capsys.readouterr().out
    assert evaluate.main(argv + ["--label-map", "A=anxiety,D=adhd"]) == 2  # a class of ours that is not
    assert "none of the models' classes" in capsys.readouterr().err


def test_a_refusal_or_a_failed_write_is_one_line_with_status_2(capsys, tmp_path):
    def refused():
        raise DataError("bad \x1b[31m input")

    def disk_full():
        raise OSError(28, "No space left on device")

    assert run_command(refused, print) == 2
    assert capsys.readouterr().err == "error: bad \\x1b[31m input\n"
    assert run_command(disk_full, print, writing=[tmp_path / "o.csv", None]) == 2
    assert capsys.readouterr().err == f"error: writing {tmp_path / 'o.csv'} failed: No space left on device\n"
    with pytest.raises(OSError):  # nothing was being written: not a refusal but a failure to show
        run_command(disk_full, print)
    assert run_command(lambda: 5, lambda n: n - 4) == 1 and run_command(lambda: 5, lambda n: None) == 0


def _documented_flags() -> dict[str, set[str]]:
    """The flags the README shows after each `python -m <command>` (code blocks and inline code)."""
    text = (ROOT / "README.md").read_text()
    pieces = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL):
        pieces += [re.sub(r"\s#.*", "", line) for line in block.replace("\\\n", " ").splitlines()]
    pieces += re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    flags: dict[str, set[str]] = {}
    for piece in pieces:
        for module, rest in re.findall(r"-m (mhexplain\.\w+|train)\b([^`]*)", piece):
            flags.setdefault(module, set()).update(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest))
    return flags


def test_the_readme_shows_every_command():
    assert set(_documented_flags()) == {"train", "mhexplain.score", "mhexplain.evaluate", "mhexplain.probe",
                                        "mhexplain.explain"}


@pytest.mark.parametrize("module", ["train", "mhexplain.score", "mhexplain.evaluate", "mhexplain.probe",
                                    "mhexplain.explain"])
def test_each_commands_help_lists_the_flags_the_readme_shows(module):
    r = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    documented = _documented_flags()[module]
    assert documented and not {f for f in documented if not re.search(rf"{f}\b", r.stdout)}, r.stdout


BENCH = sorted((ROOT / "bench").glob("[!_]*.py")) + [ROOT / "tools" / "screenshots.py"]


@pytest.mark.parametrize("script", BENCH, ids=lambda p: p.name)
def test_bench_scripts_take_their_settings_from_the_same_generator(script, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "--models-dir" in text or "--data" in text or "--model-dir" in text, text
    assert "argparse" not in script.read_text()


def test_a_repeated_option_collects_one_item_per_use():
    @dataclass
    class Filters:
        where: tuple[str, ...] = option((), "conditions", repeat=True)

    assert parse(Filters, []).where == ()
    assert parse(Filters, ["--where", "a=1,2", "--where", "b=3"]).where == ("a=1,2", "b=3")  # a comma stays
    with pytest.raises(SystemExit):
        parse(Filters, ["--where", " "])
