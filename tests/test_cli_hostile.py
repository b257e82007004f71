"""What a hostile tester tried on the command-line tools: unusable output paths, links in the way,
huge or wide inputs, a broken model among good ones, bytes that are not UTF-8.

Each refusal is one line on stderr, exit status 2, no traceback, nothing written, and comes
before any model is loaded.
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from mhexplain import preprocess
from mhexplain.artifacts import registry
from mhexplain.artifacts.registry import load_classifier
from mhexplain.cli import evaluate, probe, score
from mhexplain.cli import explain as explain_cli
from mhexplain.core import progress
from mhexplain.core.errors import ConfigError, train_command
from mhexplain.core.outputs import check_output_dir, create_exclusive, temp_file_beside
from mhexplain.evaluation.probe import probe_folder

from .helpers import ROOT, synthetic_posts

POST = "my anxiety and panic attack today, heart racing"


def _posts_csv(path, n=30):
    synthetic_posts(per_class=6, seed=1).head(n).to_csv(path, index=False)
    return path


def _labelled_csv(path):
    df = synthetic_posts(per_class=6, seed=1)
    df["label"] = df["target"].map({0: "S", 1: "D", 2: "B", 3: "P", 4: "A"})
    df.to_csv(path, index=False)
    return path


def _one_error(capsys, *needles):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def no_model_loads(monkeypatch):
    """Loading a model is the work an output check must come before: here it fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the output path was checked")

    monkeypatch.setattr(registry, "load_classifier", refuse)


def _cli_runs(models_dir, data, labelled, out):
    """Each command given ``out`` as its output file, with everything else usable."""
    return {
        "score --out": lambda: score.main(["--models-dir", str(models_dir), "--data", str(data), "--out", str(out)]),
        "evaluate --json": lambda: evaluate.main(
            ["--models-dir", str(models_dir), "--data", str(labelled), "--text-col", "text", "--label-col", "label",
             "--label-map", "A=anxiety,D=depression", "--json", str(out)]),
        "probe --json": lambda: probe.main(["--models-dir", str(models_dir), "--json", str(out)]),
        "explain --json": lambda: explain_cli.main(["--models-dir", str(models_dir), "--json", str(out), POST]),
        "explain --html": lambda: explain_cli.main(["--models-dir", str(models_dir), "--html", str(out), POST]),
    }


@pytest.mark.parametrize("command", ["score --out", "evaluate --json", "probe --json", "explain --json",
                                     "explain --html"])
@pytest.mark.parametrize("where", ["a folder", "a missing folder", "/proc", "/sys"])
def test_unusable_output_is_refused_before_any_work(command, where, trained_dir, tmp_path, capsys,
                                                    no_model_loads):
    work = tmp_path / "work"
    work.mkdir()
    data, labelled = _posts_csv(tmp_path / "in.csv"), _labelled_csv(tmp_path / "labelled.csv")
    out = {"a folder": work, "a missing folder": work / "no" / "such" / "out.json",
           "/proc": "/proc/mhx-hostile-test.json", "/sys": "/sys/mhx-hostile-test.json"}[where]
    assert _cli_runs(trained_dir, data, labelled, out)[command]() == 2
    _one_error(capsys, command.split()[1])
    assert list(work.iterdir()) == []  # nothing written, no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "labelled.csv", "work"]


def test_a_link_in_place_of_the_scores_part_file_is_not_written_through(trained_dir, tmp_path):
    data = _posts_csv(tmp_path / "in.csv")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "pred.csv"
    for name in (".pred.csv.part0", "pred.csv.part0", ".pred.csv.tmp"):  # names a run used or might use
        (tmp_path / name).symlink_to(victim)
    assert score.main(["--models-dir", str(trained_dir), "--data", str(data), "--out", str(out)]) == 0
    assert victim.read_text() == "keep me\n"
    assert out.read_text().startswith("row,note,in_domain_similarity,in_domain_typicality,nb_pred")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".pred.csv.part0", ".pred.csv.tmp", "in.csv", "pred.csv", "pred.csv.part0", "victim.txt"]


def _wide_header(path, names):
    path.write_text(",".join(names) + "\ntext\n")
    return path


@pytest.mark.parametrize("case", ["a million distinct names", "a million repeated names", "a row of a million fields",
                                  "a line of five million commas"])
@pytest.mark.parametrize("command", ["score", "evaluate"])
def test_wide_inputs_are_refused_at_once(case, command, trained_dir, tmp_path, capsys, request):
    data = tmp_path / "wide.csv"
    if "names" in case:
        request.getfixturevalue("no_model_loads")  # a header is checked before any work
    if case == "a million distinct names":
        _wide_header(data, ["text", "title", "label"] + [f"c{i}" for i in range(1_100_000)])
    elif case == "a million repeated names":
        _wide_header(data, ["text", "title", "label"] + ["x"] * 1_100_000)
    else:
        width = 1_000_000 if case == "a row of a million fields" else 5_000_000
        data.write_text("text,title,label\n" + "," * width + "\n")
    out = tmp_path / "out.json"
    argv = {"score": ["--data", str(data), "--out", str(out)],
            "evaluate": ["--data", str(data), "--text-col", "text", "--label-col", "label", "--label-map",
                         "A=anxiety,D=depression", "--json", str(out)]}[command]
    t0 = time.perf_counter()
    assert (score if command == "score" else evaluate).main(["--models-dir", str(trained_dir)] + argv) == 2
    assert time.perf_counter() - t0 < 30  # the tester's runs took 113 s to over 600 s
    line = _one_error(capsys)
    assert ("columns in its header; at most 256" in line if "names" in case
            else "row 2 has 1,000,001 fields but the header has 3" in line if "fields" in case
            else "line 2 is longer than" in line)
    assert not out.exists()


def test_repeated_column_names_are_refused(trained_dir, tmp_path, capsys):
    data = tmp_path / "twice.csv"
    data.write_text("text,title,text\na,b,c\n")
    assert score.main(["--models-dir", str(trained_dir), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 2
    _one_error(capsys, "2 columns named 'text'")


def _break_nb(trained_dir, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(trained_dir, folder)
    skops = folder / "nb" / "model.skops"
    skops.write_bytes(skops.read_bytes()[:200])  # truncated
    return folder


def test_probe_names_the_model_that_cannot_load_and_probes_the_others(trained_dir, tmp_path, capsys):
    folder = _break_nb(trained_dir, tmp_path)
    out = tmp_path / "probe.json"
    assert probe.main(["--models-dir", str(folder), "--json", str(out)]) == 1
    captured = capsys.readouterr()
    err = [line for line in captured.err.strip().splitlines() if not line.startswith("probing: ")]
    assert len(err) == 1 and err[0].startswith("error: nb was not probed: ") and "model.skops" in err[0]
    assert "\nlr " in captured.out and "\nnb " not in captured.out
    saved = json.loads(out.read_text())
    assert [r["model"] for r in saved["models"]] == ["lr"]
    assert list(saved["failed"]) == ["nb"] and "model.skops" in saved["failed"]["nb"]


def test_probe_folder_keeps_going_for_the_compare_page(trained_dir, tmp_path):
    folder = _break_nb(trained_dir, tmp_path)
    failed = {}
    results = probe_folder(folder, (), failed=failed)
    assert [r["model"] for r in results] == ["lr"] and list(failed) == ["nb"]
    # the page passes the models it could load and has already said why nb did not
    loaded = {"lr": load_classifier(folder / "lr")}
    assert [r["model"] for r in probe_folder(folder, (), models=loaded)] == ["lr"]


@pytest.mark.parametrize("command", ["score", "evaluate"])
def test_a_broken_model_is_named_not_left_out_unsaid(command, trained_dir, tmp_path, capsys):
    folder = tmp_path / "models"
    shutil.copytree(trained_dir, folder)
    (folder / "nb" / "manifest.json").write_text("{")
    data, labelled = _posts_csv(tmp_path / "in.csv"), _labelled_csv(tmp_path / "labelled.csv")
    run = _cli_runs(folder, data, labelled, tmp_path / "out.json")[f"{command} --{'out' if command == 'score' else 'json'}"]
    assert run() == 2
    _one_error(capsys, "manifest.json", "--models can leave nb out")
    assert not (tmp_path / "out.json").exists()


def test_probe_of_a_model_never_trained_says_how_to_train_it(trained_dir, capsys):
    assert probe.main(["--models-dir", str(trained_dir), "--models", "bert"]) == 2
    _one_error(capsys, "No trained model bert in", "--models bert")


def test_explain_without_the_model_suggests_training_that_model(trained_dir, capsys):
    assert explain_cli.main(["--models-dir", str(trained_dir), "--model", "bert", POST]) == 2
    _one_error(capsys, "python -m train", "--models bert")


def test_explain_says_evaluation_in_the_singular_when_there_is_one(trained_dir, capsys):
    assert explain_cli.main(["--models-dir", str(trained_dir), "--method", "linear", POST]) == 0
    out = capsys.readouterr().out
    assert "1 evaluation," in out and "1 evaluations" not in out


@pytest.mark.parametrize("model", ["lr", "bert"])
def test_explain_takes_bytes_that_are_not_utf8_from_argv_and_stdin(model, three_models_dir, tmp_path, capsys,
                                                                   monkeypatch):
    base = ["--models-dir", str(three_models_dir), "--model", model, "--method", "shap", "--budget", "40"]
    surrogate = POST.encode() + b" \xff\xfe caf\xe9"
    assert explain_cli.main(base + ["--json", str(tmp_path / "a.json"),
                                    surrogate.decode("utf-8", "surrogateescape")]) == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(surrogate), encoding="utf-8"))
    assert explain_cli.main(base + ["--html", str(tmp_path / "b.html"), "-"]) == 0
    captured = capsys.readouterr()
    assert "error" not in captured.err and captured.out.count("predicted") == 2
    assert "\ufffd" in json.loads((tmp_path / "a.json").read_text())["text"]
    assert "\ufffd" in (tmp_path / "b.html").read_text(encoding="utf-8")


def test_explain_cli_process_with_raw_bytes_in_argv(three_models_dir, tmp_path):
    r = subprocess.run([sys.executable, "-m", "mhexplain.explain", "--models-dir", str(three_models_dir), "--model",
                        "bert", "--budget", "20", POST.encode() + b" \xff caf\xe9"], capture_output=True, cwd=ROOT,
                       check=False, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stdout.startswith(b"bert: predicted")


def test_explain_reads_a_post_as_score_and_the_app_do(trained_dir, capsys, monkeypatch):
    """explain refused a post over 200,000 characters that score and Analyze cut with a note, and
    explained "&amp;#x200B;", which they read as no text."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"panic attacks " * 70_000)))
    assert explain_cli.main(["--models-dir", str(trained_dir), "--method", "linear", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The post was truncated to its first 200,000 characters, as the models read it.\n")
    assert explain_cli.main(["--models-dir", str(trained_dir), "&amp;#x200B; "]) == 2
    _one_error(capsys, "The post is empty")


def _slowed(function):
    def slow(*args, **kwargs):  # long enough for a few progress lines
        time.sleep(0.2)
        return function(*args, **kwargs)
    return slow


@pytest.mark.parametrize("command", ["score", "evaluate", "probe"])
def test_long_commands_print_progress_lines_into_a_log(command, trained_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.01)
    for module, name in ((registry, "load_classifier"), (preprocess, "clear_memo")):  # called during the work
        monkeypatch.setattr(module, name, _slowed(getattr(module, name)))
    data, labelled = _posts_csv(tmp_path / "in.csv"), _labelled_csv(tmp_path / "labelled.csv")
    runs = _cli_runs(trained_dir, data, labelled, tmp_path / "out")
    assert runs[{"score": "score --out", "evaluate": "evaluate --json", "probe": "probe --json"}[command]]() == 0
    lines = capsys.readouterr().err.splitlines()
    word = {"score": "scoring: ", "evaluate": "evaluating: ", "probe": "probing: "}[command]
    assert lines and all(line.startswith(word) for line in lines)
    assert "\r" not in "".join(lines) and "\x1b" not in "".join(lines)  # no bar drawn into a log


def test_progress_in_a_log_ends_with_a_last_line_even_when_quick():
    """A command shorter than EVERY_SECONDS printed nothing into a log: not even how much it did."""
    log = io.StringIO()
    with progress.Progress("scoring", "row", stream=log) as bar:
        bar.update(45)
    assert log.getvalue().startswith("scoring: 45 rows after 0 s") and log.getvalue().count("\n") == 1
    failed = io.StringIO()
    with pytest.raises(RuntimeError), progress.Progress("scoring", "row", stream=failed):
        raise RuntimeError("the error is the last word")
    assert failed.getvalue() == ""
    for enabled, done in ((False, 3), (True, 0)):  # not the first process; nothing done (an error says why)
        quiet = io.StringIO()
        with progress.Progress("scoring", "row", enabled=enabled, stream=quiet) as bar:
            bar.update(done)
        assert quiet.getvalue() == ""


def test_progress_draws_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    with progress.Progress("scoring", "row", stream=stream) as bar:
        bar.update(5)
    assert "scoring" in stream.getvalue() and "5" in stream.getvalue() and "\r" in stream.getvalue()


def test_output_folders_are_checked_as_train_does(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    check_output_dir(tmp_path / "new" / "models", "--out")  # to be created: fine
    for path, says in ((blocker, "is a file, not a folder"), (blocker / "models", "cannot be created"),
                       ("/sys/mhx-models", "cannot be created"), ("/proc", "is not writable")):
        with pytest.raises(ConfigError, match=says):
            check_output_dir(path, "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_exclusive_and_temporary_files_are_never_written_through_a_link(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (tmp_path / "part0").symlink_to(victim)
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing-here")
    for link in ("part0", "dangling"):  # a link to a file, and one to where a file would be made
        with pytest.raises(FileExistsError):
            create_exclusive(tmp_path / link)
    assert not (tmp_path / "nothing-here").exists()
    # a temporary name already taken by a link is passed over for a fresh one
    (tmp_path / ".out.csv.taken.tmp").symlink_to(victim)
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: iter(["taken", "fresh"]))
    fd, tmp = temp_file_beside(tmp_path / "out.csv")
    with os.fdopen(fd, "w") as f:
        f.write("new")
    assert tmp.name == ".out.csv.fresh.tmp" and not tmp.is_symlink() and tmp.read_text() == "new"
    assert victim.read_text() == "untouched"


def test_the_suggested_train_command_can_be_pasted_where_the_dataset_is_found(tmp_path, monkeypatch):
    data = tmp_path / "posts.csv"
    data.write_text("text,title,target\n")
    monkeypatch.setenv("MHX_DATA", str(data))
    assert train_command(tmp_path / "m", ["bert"]) == f"python -m train --out {tmp_path / 'm'} --models bert"
    monkeypatch.setenv("MHX_DATA", str(tmp_path / "missing.csv"))
    assert train_command(tmp_path / "m", ["bert"]).startswith("python -m train --data PATH --out ")


def _folder_state(folder):
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.rglob("*"))}


def test_no_output_lands_in_a_models_folder_or_on_another_output(trained_dir, tmp_path, capsys, no_model_loads):
    """--json on --out (not written yet, named another way) would have replaced the predictions;
    a file in a model folder would have broken its hashes (predictions.csv is read for shift)."""
    data = _posts_csv(tmp_path / "in.csv")
    labelled = _labelled_csv(tmp_path / "lab.csv")
    before = _folder_state(trained_dir)
    (tmp_path / "out").mkdir()
    models = ["--models-dir", str(trained_dir)]
    cases = [
        (score, [*models, "--data", str(data), "--out", str(tmp_path / "out" / "e.csv"), "--json",
                 str(tmp_path / "out" / "." / "e.csv")], "is also --out"),
        (score, [*models, "--data", str(data), "--out", str(tmp_path / "p.csv"), "--json",
                 str(trained_dir / "nb" / "metrics.json")], "inside the models folder"),
        (score, [*models, "--data", str(data), "--out", str(trained_dir / "nb" / "predictions.csv")],
         "inside the models folder"),
        (score, [*models, "--data", str(data), "--out", str(trained_dir / "scores.csv")], "inside the models folder"),
        (evaluate, [*models, "--data", str(labelled), "--text-col", "text", "--label-col", "label", "--label-map",
                    "S=stress", "--json", str(trained_dir / "lr" / "metrics.json")], "inside the models folder"),
        (probe, [*models, "--json", str(trained_dir / "lr" / "probe.json")], "inside the models folder"),
        (explain_cli, [*models, "--model", "lr", "--json", str(tmp_path / "x.json"), "--html",
                       str(tmp_path / "x.json"), POST], "is also --html"),
    ]
    for cli, argv, says in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert _folder_state(trained_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "lab.csv", "out"]
    assert not any((tmp_path / "out").iterdir())
