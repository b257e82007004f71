import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mhexplain import settings
from mhexplain.artifacts import folder as artifacts
from mhexplain.artifacts.folder import artifact_hash, check_replaceable, verify_artifact
from mhexplain.artifacts.registry import discover
from mhexplain.cli.train import main, parse_args
from mhexplain.core.errors import ConfigError
from mhexplain.datasets.dataset import DatasetSpec
from mhexplain.datasets.posts import normalise_key
from mhexplain.settings import ServerSettings
from mhexplain.training import common
from mhexplain.training.api import check_config, run
from mhexplain.training.config import BertTrainConfig, CombineConfig, TrainConfig

from .helpers import ROOT, rescore, synthetic_posts


def test_artifacts_are_complete(trained_dir):
    for name in ("nb", "lr"):
        d = trained_dir / name
        assert {p.name for p in d.iterdir()} == {"model.skops", "calibration.json", "metrics.json", "predictions.csv",
                                               "validation.csv", "manifest.json"}
        m = json.loads((d / "metrics.json").read_text())
        for key in ("accuracy", "macro_f1", "macro_f1_ci", "protocol", "train_test_overlap", "per_class",
                    "macro_avg", "weighted_avg", "confusion_matrix", "cohen_kappa"):
            assert key in m
        assert m["protocol"] == "leakage-free" and m["train_test_overlap"] == 0
        assert m["macro_f1"] > 0.8  # the fixture's classes are separable by their words
        man = json.loads((d / "manifest.json").read_text())
        assert man["split"]["seed"] == 42 and man["data"]["sha256"]
        assert man["cleaning"]["conflicting_label_texts"] == 1
        assert "scikit-learn" in man["versions"]
    lr = json.loads((trained_dir / "lr" / "metrics.json").read_text())
    assert len(lr["grid"]) == 8 and lr["best"]["rank"] == 1


def test_skops_round_trip_gives_identical_predictions(trained_dir):
    _, proba, saved, preds = rescore(trained_dir / "lr")
    np.testing.assert_allclose(proba, saved, atol=1e-12)
    assert (proba.argmax(1) == preds["pred_label"]).all()
    np.testing.assert_allclose(proba.sum(1), 1.0)


def test_same_seed_same_models(trained_dir, fixture_csv, tmp_path):
    assert main(["--data", str(fixture_csv), "--out", str(tmp_path), "--models", "lr", "--jobs", "1",
                 "--cache-dir", str(tmp_path / "c")]) == 0
    a = pd.read_csv(trained_dir / "lr" / "predictions.csv")
    b = pd.read_csv(tmp_path / "lr" / "predictions.csv")
    pd.testing.assert_frame_equal(a, b)


def test_discover_reports_status(trained_dir, tmp_path):
    info = {m.name: m for m in discover(trained_dir)}
    assert info["nb"].ok and info["lr"].ok and info["bert"].error == "not trained"
    assert artifact_hash(trained_dir / "nb") != artifact_hash(trained_dir / "lr")
    assert verify_artifact(trained_dir / "nb")["kind"] == "sklearn"


def test_reference_protocol_and_repeats(tmp_path):
    posts = synthetic_posts()
    posts = pd.concat([posts, posts.iloc[::5]], ignore_index=True)  # 41 posts scraped twice, as in the data
    data = tmp_path / "dup.csv"
    posts.to_csv(data, index=False)
    overlaps = {}
    for protocol in ("reference", "leakage-free"):
        out = tmp_path / protocol
        assert main(["--data", str(data), "--out", str(out), "--protocol", protocol, "--models", "nb",
                     "--repeats", "2", "--jobs", "1", "--cache-dir", str(tmp_path / "c")]) == 0
        m = json.loads((out / "nb" / "metrics.json").read_text())
        assert m["protocol"] == protocol
        assert len(m["seed_repeats"]["macro_f1"]) == 2 and m["seed_repeats"]["seeds"] == [42, 43]
        overlaps[protocol] = m["train_test_overlap"]
    # counted again here, from the test posts and every post of the file
    test_keys = [normalise_key(t) for t in pd.read_csv(tmp_path / "reference" / "nb" / "predictions.csv",
                                                       keep_default_na=False)["text"]]
    all_keys = [normalise_key(f"{r.title} {r.text}") for r in posts.itertuples()]
    copies = sum(all_keys.count(k) > 1 for k in test_keys)  # test posts with a verbatim twin in the file
    assert overlaps == {"reference": overlaps["reference"], "leakage-free": 0}
    assert 0 < overlaps["reference"] <= copies


def test_limit_trains_on_a_sample(fixture_csv, tmp_path):
    assert main(["--data", str(fixture_csv), "--out", str(tmp_path), "--models", "nb", "--limit", "100",
                 "--jobs", "1", "--cache-dir", str(tmp_path / "c")]) == 0
    man = json.loads((tmp_path / "nb" / "manifest.json").read_text())
    assert man["data"]["rows"] == 100 and man["data"]["limit"] == 100


BAD = {
    "not_a_csv": b'"unterminated,\n"x\n',
    "binary": bytes(range(256)) * 4,
    "latin1": "text,title,target\ncaf\xe9,t,1\n".encode("latin-1"),
    "missing_columns": b"body,title,target\nx,y,1\n",
    "label_out_of_range": b"text,title,target\nx,y,5\n",
    "label_non_numeric": b"text,title,target\nx,y,anxiety\n",
    "empty": b"",
    "header_only": b"text,title,target\n",
    "class_too_small": b"text,title,target\n" + b"".join(b"post %d,t,%d\n" % (i, i % 2) for i in range(40))
                       + b"lonely,t,2\n",
}


@pytest.mark.parametrize("case", sorted(BAD) + ["missing_file"])
def test_bad_data_one_line_error_and_nothing_written(case, tmp_path):
    data = tmp_path / "in.csv"
    if case != "missing_file":
        data.write_bytes(BAD[case])
    out = tmp_path / "models"
    r = subprocess.run([sys.executable, "-m", "train", "--data", str(data), "--out", str(out), "--jobs", "1",
                        "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert not out.exists()


def test_failed_write_leaves_previous_model(trained_dir, tmp_path, monkeypatch):
    d = tmp_path / "models"
    shutil.copytree(trained_dir, d)
    before = (d / "nb" / "manifest.json").read_text()

    def boom(path):
        (path / "model.skops").write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        artifacts.write_artifact(d, "nb", boom, {}, {}, pd.DataFrame())
    assert (d / "nb" / "manifest.json").read_text() == before
    assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in trained_dir.iterdir())


def _cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "train", "--jobs", "1", "--cache-dir", str(tmp_path / "cache"),
                           *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("case", ["out is a file", "cache is a file", "out under a file", "bert folder without model",
                                  "bert path that does not exist"])
def test_unusable_outputs_are_refused_before_any_work(case, fixture_csv, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    args = {"out is a file": ["--out", str(blocker)],
            "cache is a file": ["--out", str(tmp_path / "m"), "--cache-dir", str(blocker)],
            "out under a file": ["--out", str(blocker / "models")],
            "bert folder without model": ["--out", str(tmp_path / "m"), "--models", "bert", "--bert-model",
                                          str(empty)],
            "bert path that does not exist": ["--out", str(tmp_path / "m"), "--models", "bert", "--bert-model",
                                              str(tmp_path / "no" / "such")]}[case]
    r = _cli(tmp_path, "--data", str(fixture_csv), *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("error:")]) == 1
    assert "reading" not in r.stderr  # refused before the data was even read
    assert not (tmp_path / "m").exists() and blocker.read_text() == "x"


def test_stride_defaults_to_half_the_max_length():
    assert parse_args(["--data", "x.csv", "--max-length", "64"]).bert.stride == 32
    assert parse_args(["--data", "x.csv"]).bert.stride == 128
    with pytest.raises(SystemExit):
        parse_args(["--data", "x.csv", "--max-length", "64", "--stride", "62"])


def test_cli_says_where_it_wrote_and_what_it_replaced(fixture_csv, tmp_path):
    out = tmp_path / "m"
    first = _cli(tmp_path, "--data", str(fixture_csv), "--out", str(out), "--models", "nb")
    assert first.returncode == 0 and f"-> {out / 'nb'}\n" in first.stdout
    second = _cli(tmp_path, "--data", str(fixture_csv), "--out", str(out), "--models", "nb")
    assert f"-> {out / 'nb'} (replaced the model that was there)" in second.stdout
    assert "\r" not in second.stderr and "\x1b[" not in second.stderr  # no progress-bar codes in a log


def test_every_config_field_is_a_flag_with_one_help_text():
    cfg = parse_args(["--data", "x.csv", "--weight-decay", "0.1", "--warmup-ratio", "0.2", "--max-chunks", "3",
                      "--val-fraction", "0.2", "--max-grad-norm", "0.5", "--jobs", "1", "--models", "nb,bert"])
    b = cfg.bert
    assert (b.weight_decay, b.warmup_ratio, b.max_chunks, b.val_fraction, b.max_grad_norm) == (0.1, 0.2, 3, 0.2, 0.5)
    assert cfg.n_jobs == 1 and cfg.models == ("nb", "bert")
    for cls in (TrainConfig, BertTrainConfig, CombineConfig):
        for f in dataclasses.fields(cls):
            assert f.name in ("bert", "dataset", "combine") or f.metadata.get("help"), f.name
    dataset_help = dataclasses.fields(TrainConfig)[[f.name for f in dataclasses.fields(TrainConfig)].index("dataset")]
    assert set(dataset_help.metadata["fields"]) == {f.name for f in dataclasses.fields(DatasetSpec)}
    assert all(m["help"] for m in dataset_help.metadata["fields"].values())
    with pytest.raises(SystemExit):
        parse_args(["--data", "x.csv", "--models", "nb,svm"])


def test_a_failed_run_leaves_the_models_folder_as_it_was(trained_dir, fixture_csv, tmp_path, monkeypatch):
    d = tmp_path / "models"
    shutil.copytree(trained_dir, d)
    before = {p.name: (p / "manifest.json").read_text() for p in d.iterdir()}
    real = common.write_artifact
    calls = []

    def fail_on_second(out, name, *args, **kwargs):  # nb is written, then lr fails
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(out, name, *args, **kwargs)

    monkeypatch.setattr(common, "write_artifact", fail_on_second)
    with pytest.raises(OSError):
        run(parse_args(["--data", str(fixture_csv), "--out", str(d), "--jobs", "1",
                        "--cache-dir", str(tmp_path / "c")]))
    assert calls == ["nb", "lr"]
    assert {p.name: (p / "manifest.json").read_text() for p in d.iterdir()} == before  # nb not replaced either
    assert sorted(p.name for p in d.iterdir()) == sorted(before)  # no staging folder left behind


def test_the_dataset_is_found_where_the_readme_puts_it(tmp_path, monkeypatch):
    """`python -m train` with no --data read only MHX_DATA, not data/data_to_be_cleansed.csv."""
    project = tmp_path / "project"
    monkeypatch.setattr(settings, "PROJECT", project)
    monkeypatch.delenv("MHX_DATA", raising=False)
    local = project / "data" / settings.DATA_FILE
    local.parent.mkdir(parents=True)
    local.write_text("x")
    assert parse_args([]).data == local
    assert ServerSettings.from_env().data_path == local  # the app's in-app training finds the same file
    mine = tmp_path / "mine.csv"
    monkeypatch.setenv("MHX_DATA", str(mine))  # set by the user: used, even before the file exists,
    assert parse_args([]).data == mine  # so that the error names it rather than another file being read
    assert parse_args(["--data", str(local)]).data == local


def test_no_dataset_anywhere_says_every_place_to_put_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(settings, "PROJECT", tmp_path / "project")
    monkeypatch.delenv("MHX_DATA", raising=False)
    with pytest.raises(SystemExit):
        parse_args([])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--data PATH" in err and "MHX_DATA" in err and "data/data_to_be_cleansed.csv" in err


def test_control_characters_in_paths_are_escaped_in_trains_output(fixture_csv, tmp_path):
    data = tmp_path / "posts\x1b[31m.csv"
    shutil.copy(fixture_csv, data)
    r = _cli(tmp_path, "--data", str(data), "--out", str(tmp_path / "out\x1b[0m\x07"), "--models", "nb")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout + r.stderr and "\x07" not in r.stdout + r.stderr
    assert "posts\\x1b[31m.csv" in r.stderr and "out\\x1b[0m\\x07" in r.stdout + r.stderr


OUT_OF_RANGE = [
    (["--epochs", "0"], "--epochs must be greater than 0"),
    (["--epochs", "nan"], "argument --epochs: 'nan' is not a finite number"),
    (["--lr", "0"], "--lr must be greater than 0"),
    (["--lr", "nan"], "argument --lr: 'nan' is not a finite number"),
    (["--weight-decay", "-0.1"], "--weight-decay must be at least 0"),
    (["--weight-decay", "nan"], "argument --weight-decay: 'nan' is not a finite number"),
    (["--max-grad-norm", "0"], "--max-grad-norm must be greater than 0"),
    (["--max-grad-norm", "inf"], "argument --max-grad-norm: 'inf' is not a finite number"),
    (["--warmup-ratio", "1"], "--warmup-ratio must be at least 0 and less than 1"),
    (["--warmup-ratio", "-0.1"], "--warmup-ratio must be at least 0 and less than 1"),
    (["--max-length", "7"], "--max-length must be between 8 and 8192"),
    (["--max-length", "100000"], "--max-length must be between 8 and 8192"),
    (["--threads", "0"], "--threads must be between 1 and 1024"),
    (["--threads", "5000"], "--threads must be between 1 and 1024"),
    (["--max-steps", "0"], "--max-steps must be -1 (no limit) or at least 1"),
    (["--max-steps", "-5"], "--max-steps must be -1 (no limit) or at least 1"),
    (["--loader-workers", "40000"], "--loader-workers must be between 0 and 64"),
    (["--loader-workers", "-1"], "--loader-workers must be between 0 and 64"),
    (["--jobs", "100000"], f"--jobs must be between 1 and {4 * (os.cpu_count() or 1)}"),
    (["--jobs", "0"], f"--jobs must be between 1 and {4 * (os.cpu_count() or 1)}"),
    (["--batch-size", "100000"], "--batch-size may be at most 1024"),
    (["--seed", str(2**32 - 1), "--repeats", "2"], "--seed + --repeats - 1 must be at most 4294967295"),
    (["--mask-words", ""], "argument --mask-words: expected a value, got an empty one"),
    (["--cache-dir", ""], "argument --cache-dir: expected a value, got an empty one"),
    (["--out", ""], "argument --out: expected a value, got an empty one"),
]


@pytest.mark.parametrize("argv, says", OUT_OF_RANGE, ids=[" ".join(a) for a, _ in OUT_OF_RANGE])
def test_a_setting_out_of_range_is_refused_in_one_line_before_any_work(argv, says, capsys):
    """Each was accepted: silently (--max-steps 0 meant no limit, --out '' wrote ./nb), or until
    training failed with a traceback (--lr nan, --max-length 100000), or forking 100,000 workers."""
    with pytest.raises(SystemExit) as stop:
        parse_args(["--data", "x.csv", "--models", "nb,lr,bert"] + argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"python -m train: error: {says}" and not any("Traceback" in line for line in err)


def test_the_edges_of_each_range_are_accepted():
    cfg = parse_args(["--data", "x.csv", "--max-length", "8192", "--threads", "1", "--max-steps", "1",
                      "--loader-workers", "64", "--warmup-ratio", "0", "--weight-decay", "0", "--seed", str(2**32 - 1),
                      "--jobs", "1"])
    b = cfg.bert
    assert (b.max_length, b.threads, b.max_steps, b.loader_workers, b.warmup_ratio) == (8192, 1, 1, 64, 0.0)
    assert parse_args(["--data", "x.csv", "--max-steps", "-1", "--max-length", "8"]).bert.max_steps == -1


@pytest.mark.parametrize("bert, says", [
    ({"epochs": math.nan}, "--epochs must be a finite number"),
    ({"learning_rate": math.inf}, "--lr must be a finite number"),
    ({"max_steps": 0}, "--max-steps must be -1"),
    ({"loader_workers": 40}, None),
    ({"loader_workers": 65}, "--loader-workers must be between 0 and 64"),
])
def test_library_callers_get_the_same_refusals(bert, says, tmp_path):
    """The app's in-app training builds a TrainConfig without the command line: run() checks it too."""
    cfg = TrainConfig(data=tmp_path / "x.csv", out=tmp_path / "m", n_jobs=1, bert=BertTrainConfig(**bert))
    if says is None:
        check_config(cfg)
    else:
        with pytest.raises(ConfigError, match=re.escape(says)):
            run(cfg)
    with pytest.raises(ConfigError, match="--mask-words takes 'default' or a word-list file"):
        check_config(dataclasses.replace(cfg, mask_words=" "))
    assert not (tmp_path / "m").exists()


def test_a_folder_that_is_not_a_model_is_never_replaced(fixture_csv, tmp_path, capsys):
    """`--out DIR` deleted DIR/nb holding someone's important.txt and said it replaced a model."""
    out = tmp_path / "models"
    (out / "nb").mkdir(parents=True)
    (out / "nb" / "important.txt").write_text("keep me")
    assert main(["--data", str(fixture_csv), "--out", str(out), "--jobs", "1", "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {out / 'nb'} is not a model folder (it holds important.txt), so training will not "
                   "replace it; move it away, or choose another --out.\n")
    assert (out / "nb" / "important.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["nb"] and not (tmp_path / "c").exists()  # nothing was read


def _folder(path, files: dict[str, str], dirs=()):
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    for name in dirs:
        (path / name).mkdir()
    return path


@pytest.mark.parametrize("files, dirs, says", [
    ({"manifest.json": "{broken", "model.skops": "x", "metrics.json": "{}", ".DS_Store": ""}, (), None),
    ({"manifest.json": json.dumps({"files": {"vocab.txt": "ab"}}), "vocab.txt": "x", "config.json": "{}"}, (), None),
    ({}, (), None),
    ({"manifest.json": "{broken", "vocab.txt": "x"}, (), "it holds vocab.txt"),
    ({"manifest.json": json.dumps({"files": {}}), "notes.txt": "x"}, (), "it holds notes.txt"),
    ({"model.skops": "x", "metrics.json": "{}"}, (), "it has no manifest.json"),
    ({"manifest.json": "{}"}, ("photos",), "it holds photos"),
    ({"manifest.json": "{}", "a.txt": "", "b.txt": "", "c.txt": "", "d.txt": ""}, (),
     "it holds a.txt, b.txt, c.txt, ..."),
])
def test_a_model_folder_of_ours_is_told_by_its_files(files, dirs, says, tmp_path):
    """A damaged model folder (its manifest unreadable) is still replaced; anything else is named and kept."""
    folder = _folder(tmp_path / "nb", files, dirs)
    if says is None:
        check_replaceable(folder)
    else:
        with pytest.raises(ConfigError, match=re.escape(f"{folder} is not a model folder ({says})")):
            check_replaceable(folder)


def test_a_file_where_a_model_folder_goes_is_refused(tmp_path):
    (tmp_path / "nb").write_text("mine")
    with pytest.raises(ConfigError, match="is a file, not a model folder"):
        check_replaceable(tmp_path / "nb")
    check_replaceable(tmp_path / "lr")  # nothing there: nothing to replace
