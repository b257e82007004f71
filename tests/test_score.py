"""python -m mhexplain.score: chunked, atomic, spreadsheet-safe predictions for a CSV of any size."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts import registry
from mhexplain.artifacts.registry import load_classifier
from mhexplain.cli import score as score_cli
from mhexplain.cli.score import main
from mhexplain.core.classifier import MAX_POST_CHARS, abstains, abstention_threshold
from mhexplain.datasets.dataset import KAGGLE_LABELS as LABELS
from mhexplain.scoring import files as score_mod
from mhexplain.scoring.inputs import TRUNCATED

from .helpers import ROOT, synthetic_posts


def _input_file(tmp_path, n=45):
    df = synthetic_posts(per_class=10, seed=3).head(n).rename(columns={"": "id"})
    df["id"] = [f"p{i}" for i in range(len(df))]
    df.loc[2, "id"] = "=HYPERLINK(\"http://x\")"  # a spreadsheet formula in a copied cell
    df.loc[4, ["title", "text"]] = ["", "  "]  # nothing to score
    df.loc[6, "text"] = "panic " * (MAX_POST_CHARS // 6 + 10)  # longer than a model reads
    path = tmp_path / "in.csv"
    df.to_csv(path, index=False)
    return path, df


def test_scores_every_row_in_order_as_the_models_would(trained_dir, tmp_path, capsys):
    path, df = _input_file(tmp_path)
    out = tmp_path / "pred.csv"
    assert main(["--models-dir", str(trained_dir), "--data", str(path), "--id-col", "id", "--out", str(out),
                 "--chunk-size", "7"]) == 0
    assert "45 rows scored" in capsys.readouterr().out
    got = pd.read_csv(out, keep_default_na=False, dtype={"id": str})
    assert got["row"].tolist() == list(range(2, 47))  # as a spreadsheet numbers them: the header is row 1
    assert got.loc[2, "id"].startswith("'=") and got.loc[0, "id"] == "p0"
    assert got.loc[4, "note"] == "no text" and got.loc[4, "lr_pred"] == "" and got.loc[6, "note"] == TRUNCATED
    for name in ("nb", "lr"):
        clf = load_classifier(trained_dir / name)
        inputs = [(f"{t} {x}".strip())[:MAX_POST_CHARS] for t, x in zip(df["title"], df["text"])]
        keep = [i for i in range(45) if i != 4]
        want = clf.predict_proba([inputs[i] for i in keep])
        cols = [f"{name}_p_{lab.replace(' ', '_')}" for lab in LABELS]
        np.testing.assert_allclose(got.loc[keep, cols].to_numpy(float), want, atol=1e-6)
        assert got.loc[keep, f"{name}_pred"].tolist() == [LABELS[k] for k in want.argmax(1)]
        unsure = abstains(want.max(1), abstention_threshold(clf))
        assert got.loc[keep, f"{name}_uncertain"].astype(int).tolist() == unsure.astype(int).tolist()
    # the chunking does not show in the output
    one = tmp_path / "one.csv"
    assert main(["--models-dir", str(trained_dir), "--data", str(path), "--id-col", "id", "--out", str(one),
                 "--chunk-size", "1000"]) == 0
    assert one.read_bytes() == out.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "one.csv", "pred.csv"]  # no parts left


def test_a_bad_row_midway_leaves_the_old_output_untouched(trained_dir, tmp_path, capsys):
    path, _ = _input_file(tmp_path)
    lines = path.read_text().splitlines()
    lines.insert(30, "1,2,3,4,5,6,7,8,9")  # too many fields, in the third chunk
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "pred.csv"
    out.write_text("earlier results\n")
    rc = main(["--models-dir", str(trained_dir), "--data", str(path), "--out", str(out), "--chunk-size", "10"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert out.read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "pred.csv"]


def test_a_crash_midway_leaves_no_file(trained_dir, tmp_path, monkeypatch):
    path, _ = _input_file(tmp_path)
    real, calls = score_mod.score_chunk, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("simulated")
        return real(*args, **kwargs)

    monkeypatch.setattr(score_mod, "score_chunk", failing)
    with pytest.raises(MemoryError):
        main(["--models-dir", str(trained_dir), "--data", str(path), "--out", str(tmp_path / "p.csv"),
              "--chunk-size", "10"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_the_output_is_checked_once_before_the_models_load(trained_dir, tmp_path, monkeypatch):
    """check_output_file ran twice: in main, and again in score_file."""
    path, _ = _input_file(tmp_path)
    events = []
    real_check, real_load = score_cli.check_output_file, registry.load_classifier
    monkeypatch.setattr(score_cli, "check_output_file", lambda *a, **k: events.append("check") or real_check(*a, **k))
    monkeypatch.setattr(registry, "load_classifier", lambda *a, **k: events.append("load") or real_load(*a, **k))
    assert main(["--models-dir", str(trained_dir), "--data", str(path), "--out", str(tmp_path / "p.csv")]) == 0
    assert events == ["check", "load", "load"]
    assert not hasattr(score_mod, "check_output_file")  # the library writes where it is told, checked or not
    assert len(pd.read_csv(tmp_path / "p.csv")) == 45


@pytest.mark.parametrize("args, says", [
    (["--text-col", "body"], "body"),
    (["--models", "bert"], "No trained model bert"),
    (["--out", "."], "is a folder"),
])
def test_bad_requests_get_one_line(trained_dir, tmp_path, capsys, monkeypatch, args, says):
    path, _ = _input_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    base = ["--models-dir", str(trained_dir), "--data", str(path), "--out", "p.csv"]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
    assert not (tmp_path / "p.csv").exists()


def test_data_as_out_is_refused(trained_dir, tmp_path, capsys):
    path, _ = _input_file(tmp_path)
    before = path.read_bytes()
    assert main(["--models-dir", str(trained_dir), "--data", str(path), "--out", str(path)]) == 2
    assert "input file" in capsys.readouterr().err and path.read_bytes() == before


@pytest.mark.skipif(shutil.which("accelerate", path=os.path.dirname(sys.executable)) is None,
                    reason="accelerate's launcher is not installed")
def test_two_processes_write_what_one_does(trained_dir, tmp_path):
    path, _ = _input_file(tmp_path)
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert main(["--models-dir", str(trained_dir), "--data", str(path), "--out", str(one), "--chunk-size", "4"]) == 0
    launcher = os.path.join(os.path.dirname(sys.executable), "accelerate")
    # accelerate's --cpu launcher starts a single process unless MPI is set up; its torchrun launcher
    # ("--multi_gpu") starts two, which make a CPU process group on a machine without CUDA.
    r = subprocess.run([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "mhexplain.score",
                        "--models-dir", str(trained_dir), "--data", str(path), "--out", str(two), "--chunk-size", "4"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "rows scored by this process" in r.stdout
    assert two.read_bytes() == one.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "one.csv", "two.csv"]
