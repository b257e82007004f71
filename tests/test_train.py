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

from .conftest import rescore
from train.__main__ import main

from .conftest import ROOT


def test_artifacts_are_complete(trained_dir):
    for name in ("nb", "lr"):
        d = trained_dir / name
        assert {p.name for p in d.iterdir()} == {"model.skops", "metrics.json", "predictions.csv", "manifest.json"}
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


def test_reference_protocol_and_repeats(fixture_csv, tmp_path):
    assert main(["--data", str(fixture_csv), "--out", str(tmp_path), "--protocol", "reference",
                 "--repeats", "2", "--jobs", "1", "--cache-dir", str(tmp_path / "c")]) == 0
    m = json.loads((tmp_path / "nb" / "metrics.json").read_text())
    assert m["protocol"] == "reference"
    assert m["train_test_overlap"] >= 0
    assert len(m["seed_repeats"]["macro_f1"]) == 2 and m["seed_repeats"]["seeds"] == [42, 43]


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
