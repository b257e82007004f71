import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts import artifact_hash, verify_artifact
from mhexplain.errors import ArtifactError
from mhexplain.registry import discover, load_classifier
from train.__main__ import main

from .helpers import ROOT, rescore


def test_artifacts_are_complete(trained_dir):
    for name in ("nb", "lr"):
        d = trained_dir / name
        assert {p.name for p in d.iterdir()} == {"model.skops", "calibration.json", "metrics.json", "predictions.csv",
                                               "manifest.json"}
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


def _copy(trained_dir, tmp_path, name="lr"):
    d = tmp_path / name
    shutil.copytree(trained_dir / name, d)
    return d


def test_tampered_artifact_is_rejected(trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    raw = bytearray((d / "model.skops").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "model.skops").write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="does not match its manifest"):
        load_classifier(d)


def test_truncated_and_missing_files_are_rejected(trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    (d / "model.skops").write_bytes((d / "model.skops").read_bytes()[:100])
    with pytest.raises(ArtifactError, match="truncated or modified"):
        load_classifier(d)
    (d / "model.skops").unlink()
    with pytest.raises(ArtifactError, match="missing model.skops"):
        load_classifier(d)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_classifier(d)
    with pytest.raises(ArtifactError, match="No model folder"):
        load_classifier(tmp_path / "nothing")


def test_skops_file_with_foreign_types_is_refused(trained_dir, tmp_path):
    import skops.io as sio

    from mhexplain.artifacts import load_skops

    p = tmp_path / "evil.skops"
    sio.dump({"f": shutil.rmtree}, p)
    with pytest.raises(ArtifactError, match="does not load"):
        load_skops(p)


def test_discover_reports_status(trained_dir, tmp_path):
    info = {m.name: m for m in discover(trained_dir)}
    assert info["nb"].ok and info["lr"].ok and info["bert"].error == "not trained"
    assert artifact_hash(trained_dir / "nb") != artifact_hash(trained_dir / "lr")
    assert verify_artifact(trained_dir / "nb")["kind"] == "sklearn"


def test_reference_protocol_and_repeats(tmp_path):
    from mhexplain.data import normalise_key

    from .helpers import synthetic_posts

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
    from mhexplain import artifacts

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


def _rehash(d, name):
    man = json.loads((d / "manifest.json").read_text())
    from mhexplain.artifacts import sha256_file

    man["files"][name] = sha256_file(d / name)
    (d / "manifest.json").write_text(json.dumps(man))


def _edit_manifest(d, edit):
    man = json.loads((d / "manifest.json").read_text())
    edit(man)
    (d / "manifest.json").write_text(json.dumps(man))


MANIFEST_EDITS = {
    "no split": (lambda m: m.pop("split"), "split is missing"),
    "split seed as text": (lambda m: m["split"].update(seed="42"), "split.seed should be an integer"),
    "three labels": (lambda m: m.update(labels=m["labels"][:3]), "lists 3 labels"),
    "empty file list": (lambda m: m.update(files={}), "does not list model.skops, calibration.json, metrics"),
    "model file unlisted": (lambda m: m["files"].pop("model.skops"), "does not list model.skops"),
    "unknown kind": (lambda m: m.update(kind="pickle"), "unknown model kind"),
    "overlap as bool": (lambda m: m["split"].update(train_test_overlap=True), "should be an integer"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_edited_manifests_are_refused_in_one_line(case, trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path, "nb")
    edit, message = MANIFEST_EDITS[case]
    _edit_manifest(d, edit)
    with pytest.raises(ArtifactError, match=message):
        load_classifier(d)
    info = {m.name: m for m in discover(d.parent)}
    assert not info["nb"].ok and message.split()[0] in info["nb"].error


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.pop("macro_f1_ci"), "macro_f1_ci is missing"),
    (lambda m: m["per_class"].pop("bipolar"), "lacks per-class scores for bipolar"),
    (lambda m: m.update(confusion_matrix=[[1, 2], [3, 4]]), "not 5 x 5"),
])
def test_rehashed_metrics_missing_keys_are_refused(edit, message, trained_dir, tmp_path):
    from mhexplain.compare import load_results

    d = _copy(trained_dir, tmp_path)
    metrics = json.loads((d / "metrics.json").read_text())
    edit(metrics)
    (d / "metrics.json").write_text(json.dumps(metrics))
    _rehash(d, "metrics.json")
    manifest = verify_artifact(d)  # the hash matches: only the schema can catch it
    with pytest.raises(ArtifactError, match=message):
        load_results(d, manifest)


def test_rehashed_predictions_without_probabilities_are_refused(trained_dir, tmp_path):
    from mhexplain.artifacts import read_predictions

    d = _copy(trained_dir, tmp_path)
    preds = pd.read_csv(d / "predictions.csv").drop(columns=["p_anxiety"])
    preds.to_csv(d / "predictions.csv", index=False)
    _rehash(d, "predictions.csv")
    with pytest.raises(ArtifactError, match="lacks the column"):
        read_predictions(d)


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
    from train.__main__ import parse_args

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
    import dataclasses

    from train.__main__ import parse_args
    from train.config import BertTrainConfig, TrainConfig

    cfg = parse_args(["--data", "x.csv", "--weight-decay", "0.1", "--warmup-ratio", "0.2", "--max-chunks", "3",
                      "--val-fraction", "0.2", "--max-grad-norm", "0.5", "--jobs", "1", "--models", "nb,bert"])
    b = cfg.bert
    assert (b.weight_decay, b.warmup_ratio, b.max_chunks, b.val_fraction, b.max_grad_norm) == (0.1, 0.2, 3, 0.2, 0.5)
    assert cfg.n_jobs == 1 and cfg.models == ("nb", "bert")
    for cls in (TrainConfig, BertTrainConfig):
        for f in dataclasses.fields(cls):
            assert f.name == "bert" or f.metadata.get("help"), f.name
    with pytest.raises(SystemExit):
        parse_args(["--data", "x.csv", "--models", "nb,svm"])


def test_a_failed_run_leaves_the_models_folder_as_it_was(trained_dir, fixture_csv, tmp_path, monkeypatch):
    from train import classical
    from train.__main__ import parse_args
    from train.api import run

    d = tmp_path / "models"
    shutil.copytree(trained_dir, d)
    before = {p.name: (p / "manifest.json").read_text() for p in d.iterdir()}
    real = classical.write_artifact
    calls = []

    def fail_on_second(out, name, *args, **kwargs):  # nb is written, then lr fails
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(out, name, *args, **kwargs)

    monkeypatch.setattr(classical, "write_artifact", fail_on_second)
    with pytest.raises(OSError):
        run(parse_args(["--data", str(fixture_csv), "--out", str(d), "--jobs", "1",
                        "--cache-dir", str(tmp_path / "c")]))
    assert calls == ["nb", "lr"]
    assert {p.name: (p / "manifest.json").read_text() for p in d.iterdir()} == before  # nb not replaced either
    assert sorted(p.name for p in d.iterdir()) == sorted(before)  # no staging folder left behind
