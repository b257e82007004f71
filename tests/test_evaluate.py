import csv
import json

import numpy as np
import pytest

from mhexplain.artifacts.registry import load_classifier
from mhexplain.cli.evaluate import main
from mhexplain.core.errors import DataError
from mhexplain.datasets.dataset import KAGGLE_LABELS
from mhexplain.evaluation.external import evaluate_file, parse_label_map, wilson

from .helpers import CLASS_WORDS


def _external(path, n=300, seed=0, labels=("Anx", "Dep", "Stress", "ADHD")):
    """A labelled CSV in another corpus's shape: other column and label names, an extra class."""
    rng = np.random.default_rng(seed)
    ours = {"Anx": 4, "Dep": 1, "Stress": 0, "ADHD": None}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "body", "heading", "sub"])
        for i in range(n):
            lab = labels[i % len(labels)]
            vocab = CLASS_WORDS[ours[lab]] if ours[lab] is not None else ["focus", "forget", "distracted"]
            w.writerow([i, " ".join(rng.choice(vocab + ["i", "feel", "today"], 15)), "post", lab])
    return path


def test_label_map_and_wilson():
    assert parse_label_map("Anx=anxiety, Dep=Depression ,BPD=3", KAGGLE_LABELS) == {"Anx": 4, "Dep": 1, "BPD": 3}
    for bad, msg in (("", "empty"), ("Anx", "not their_label=our_class"), ("Anx=adhd", "none of the models' classes")):
        with pytest.raises(DataError, match=msg):
            parse_label_map(bad, KAGGLE_LABELS)
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)


@pytest.mark.parametrize("spec", ["Anx=anxiety,Anx=stress", "Anx=anxiety, Anx =anxiety"])
def test_a_label_mapped_twice_is_refused(spec):
    with pytest.raises(DataError, match="maps 'Anx' twice"):
        parse_label_map(spec, KAGGLE_LABELS)


def test_missing_columns_are_named_in_a_sentence_with_the_columns_there_are(trained_dir, tmp_path, capsys):
    data = _external(tmp_path / "ext.csv", n=20)
    assert main(["--models-dir", str(trained_dir), "--data", str(data), "--text-col", "text", "--title-col", "title",
                 "--label-col", "sub", "--label-map", "Anx=anxiety,Dep=depression"]) == 2
    assert capsys.readouterr().err == (f"error: {data} has no column named 'text' (--text-col) or 'title' "
                                       "(--title-col); its columns are 'id', 'body', 'heading' and 'sub'.\n")


def test_external_file_in_chunks(trained_dir, tmp_path):
    models = {n: load_classifier(trained_dir / n) for n in ("nb", "lr")}
    data = _external(tmp_path / "ext.csv")
    lm = parse_label_map("Anx=anxiety,Dep=depression,Stress=stress", KAGGLE_LABELS)
    small = evaluate_file(models, data, "body", "sub", lm, "heading", chunk_size=7)
    whole = evaluate_file(models, data, "body", "sub", lm, "heading", chunk_size=10_000)
    assert small == whole  # chunking changes nothing
    assert whole["rows"] == 300 and whole["dropped_unmapped"] == 75
    m = whole["models"][0]
    assert m["n"] == 225 and set(m["recall"]) == {"anxiety", "depression", "stress"}
    assert sum(m["prediction_share"].values()) == pytest.approx(1.0)
    r = m["recall"]["anxiety"]
    assert r["ci"][0] <= r["recall"] <= r["ci"][1] and r["n"] == 75


@pytest.mark.parametrize("args, message", [
    (["--text-col", "nope"], "nope"),
    (["--label-map", "Anx=adhd"], "none of the models' classes"),
    (["--label-map", "Nothing=anxiety"], "has none of the models' classes among its labels"),
    (["--where", "sub"], "--where 'sub' is not COLUMN=VALUE"),
    (["--where", "forum=x"], "no column named 'forum' (--where forum)"),
])
def test_bad_external_input_is_one_line_and_writes_nothing(args, message, trained_dir, tmp_path, capsys):
    data = _external(tmp_path / "ext.csv", n=40)
    base = {"--text-col": "body", "--label-col": "sub", "--label-map": "Anx=anxiety,Dep=depression"}
    base.update(dict(zip(args[::2], args[1::2])))
    out = tmp_path / "r.json"
    argv = ["--models-dir", str(trained_dir), "--data", str(data), "--json", str(out)]
    for k, v in base.items():
        argv += [k, v]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert not out.exists()


def test_cli_writes_json(trained_dir, tmp_path, capsys):
    data = _external(tmp_path / "ext.csv", n=60)
    out = tmp_path / "r.json"
    assert main(["--models-dir", str(trained_dir), "--data", str(data), "--text-col", "body", "--label-col", "sub",
                 "--label-map", "Anx=anxiety,Dep=depression", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [m["model"] for m in res["models"]] == ["nb", "lr"] and res["dropped_unmapped"] == 30
    assert "macro-F1" in capsys.readouterr().out


def test_a_file_of_one_class_and_a_row_filter(trained_dir, tmp_path, capsys):
    """An external set is often all one forum: one class. Its recall and shares stand; macro-F1
    is left out with its reason. --where, given once per condition, keeps the rows meeting all."""
    data = _external(tmp_path / "ext.csv", n=60)
    out = tmp_path / "r.json"
    argv = ["--models-dir", str(trained_dir), "--data", str(data), "--text-col", "body", "--label-col", "sub",
            "--label-map", "Anx=anxiety,Dep=depression", "--json", str(out)]
    assert main(argv + ["--where", "sub=Anx"]) == 0
    res = json.loads(out.read_text())
    m = res["models"][0]
    assert res["filtered_out"] == 45 and m["n"] == 15 and list(m["recall"]) == ["anxiety"]
    assert m["macro_f1_present_classes"] is None and "macro-F1 is left out" in m["left_out"]
    printed = capsys.readouterr().out
    assert "45 rows left out by --where" in printed and "one class" in printed and "macro-F1 is left out" in printed
    assert main(argv + ["--where", "sub=Anx", "--where", "heading=none"]) == 2  # both must hold: no row does
    assert "none of its 60 rows passes every --where condition (sub=Anx, heading=none)" in capsys.readouterr().err
