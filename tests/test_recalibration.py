"""Recalibration to a new source: the fit, its cross-validated evidence, and the variant folders."""
import json

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts.folder import MANIFEST, read_predictions, verify_artifact
from mhexplain.artifacts.registry import load_classifier, load_models
from mhexplain.cli.evaluate import main as evaluate
from mhexplain.core.hashing import sha256_file
from mhexplain.evaluation.recalibration import recalibration_sentence
from mhexplain.trust.calibration import ece, scale
from mhexplain.trust.recalibration import MIN_SAMPLE, recalibrate

from .helpers import noisy_source


def _overconfident(n: int = 600, seed: int = 0):
    """Probabilities from a calibrated model, then sharpened (temperature 0.4): what a model shows
    on a source where it is surer than it is right."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.5, (n, 4))
    truth = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in truth])
    return scale(truth, 0.4), y


def test_recalibration_undoes_overconfidence_under_cross_validation():
    shown, y = _overconfident()
    fitted = recalibrate(shown, y, temperature=1.3, threshold=0.5)
    assert fitted["temperature_factor"] == pytest.approx(2.5, rel=0.2)  # 1 / 0.4
    assert fitted["temperature"] == pytest.approx(1.3 * fitted["temperature_factor"])
    cv = fitted["cross_validation"]
    assert cv["posts"] == 600 and cv["folds"] == 5
    assert cv["before"]["ece"] == pytest.approx(ece(shown, y))
    assert cv["before"]["ece"] > 0.12 and cv["after"]["ece"] < 0.06
    assert cv["after"]["mean_confidence"] < cv["before"]["mean_confidence"]
    # predictions never change: only confidence does
    assert cv["after"]["accuracy"] == cv["before"]["accuracy"]
    # the refitted threshold keeps its promise out of fold, where the old one did not
    assert cv["before"]["answered_accuracy"] < 0.85 <= cv["after"]["answered_accuracy"]
    assert fitted["threshold"] > 0.5 and fitted["accuracy_lower_bound"] >= 0.85


def test_too_small_a_sample_is_refused():
    shown, y = _overconfident(MIN_SAMPLE - 1)
    with pytest.raises(ValueError, match=f"at least {MIN_SAMPLE}"):
        recalibrate(shown, y, 1.0, 0.5)


def _folder_hashes(folder):
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_evaluate_writes_calibration_variants_and_leaves_the_models_alone(trained_dir, tmp_path, capsys):
    data, out = noisy_source(tmp_path / "forum.csv"), tmp_path / "models-forum"
    before = _folder_hashes(trained_dir)
    argv = ["--models-dir", str(trained_dir), "--data", str(data), "--text-col", "text", "--title-col", "title",
            "--label-col", "target", "--recalibrate", str(out), "--json", str(tmp_path / "r.json")]
    assert evaluate(argv) == 0
    printed = capsys.readouterr().out
    assert "calibration variants written to" in printed and "-fold cross-validation on" in printed
    assert _folder_hashes(trained_dir) == before  # the originals are only read
    report = json.loads((tmp_path / "r.json").read_text())["recalibration"]
    variants = load_models(out)  # complete, checked model folders
    assert sorted(variants) == ["lr", "nb"]
    for name, clf in variants.items():
        original, folder = trained_dir / name, out / name
        manifest = verify_artifact(folder)
        fitted = report["models"][name]
        info = manifest["calibration_variant"]
        assert info["of"] == name and info["original_manifest_sha256"] == sha256_file(original / MANIFEST)
        assert info["sample"]["file"] == "forum.csv" and info["sample"]["sha256"] == sha256_file(data)
        assert info["sample"]["posts"] == fitted["cross_validation"]["posts"] >= 100
        # the model itself is the original's, byte for byte; its confidence is the new calibration's
        kept = set(manifest["files"]) - {"manifest.json", "metrics.json", "predictions.csv", "calibration.json"}
        assert kept and all(manifest["files"][f] == sha256_file(original / f) for f in kept)
        assert clf.calibration.temperature == pytest.approx(fitted["temperature"])
        assert clf.abstention_threshold == pytest.approx(fitted["threshold"])
        posts = ["so much pressure at work", "manic and awake all night"]
        assert np.allclose(clf.predict_proba(posts), scale(clf.raw_proba(posts), fitted["temperature"]))
        # the test set's figures, recomputed under the new calibration: same predictions, new confidences
        old, new = read_predictions(original), read_predictions(folder)
        assert (old["pred_label"] == new["pred_label"]).all() and not np.allclose(old.filter(like="p_"),
                                                                                  new.filter(like="p_"))
        metrics = json.loads((folder / "metrics.json").read_text())
        probs = new[[c for c in new.columns if c.startswith("p_")]].to_numpy()
        assert metrics["ece"] == pytest.approx(ece(probs, new["true_label"].to_numpy()))
        assert metrics["abstention"]["threshold"] == pytest.approx(fitted["threshold"])
        cv = fitted["cross_validation"]
        assert cv["after"]["ece"] < cv["before"]["ece"]  # overconfident on this source, less so after


def test_recalibration_refuses_in_one_line_and_writes_nothing(trained_dir, tmp_path, capsys):
    data = noisy_source(tmp_path / "forum.csv")
    small = tmp_path / "small.csv"
    pd.read_csv(data).head(MIN_SAMPLE - 10).to_csv(small, index=False)
    base = ["--models-dir", str(trained_dir), "--text-col", "text", "--title-col", "title", "--label-col", "target"]
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    one_class = tmp_path / "one.csv"
    pd.read_csv(data).assign(target=1).to_csv(one_class, index=False)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    before = {p: p.stat().st_mtime_ns for p in [trained_dir, *trained_dir.iterdir()]}
    for argv, says in (([*base, "--data", str(small), "--recalibrate", str(tmp_path / "new")], f"at least {MIN_SAMPLE}"),
                       ([*base, "--data", str(one_class), "--recalibrate", str(tmp_path / "new")], "two classes"),
                       ([*base, "--data", str(data), "--recalibrate", str(occupied)], "not an empty folder"),
                       ([*base, "--data", str(data), "--recalibrate", str(trained_dir)], "not an empty folder"),
                       ([*base, "--data", str(data), "--recalibrate", str(trained_dir / "bert")], "inside the models"),
                       ([*base, "--data", str(data), "--recalibrate", str(trained_dir / "new")], "inside the models"),
                       ([*base, "--data", str(data), "--recalibrate", str(dangling)], "is a link")):
        assert evaluate(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress line, if any
        assert err.startswith("error:") and says in err, err
    with pytest.raises(SystemExit) as stop:  # an empty folder name is no folder, not "none"
        evaluate([*base, "--data", str(data), "--recalibrate", ""])
    assert stop.value.code == 2 and "expected a value" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() and [p.name for p in occupied.iterdir()] == ["notes.txt"]
    # nothing was even tried inside the models folder
    assert {p: p.stat().st_mtime_ns for p in [trained_dir, *trained_dir.iterdir()]} == before


def test_a_variant_of_a_variant_keeps_the_chain(trained_dir, tmp_path):
    data = noisy_source(tmp_path / "forum.csv")
    args = ["--data", str(data), "--text-col", "text", "--title-col", "title", "--label-col", "target", "--models",
            "lr"]
    assert evaluate(["--models-dir", str(trained_dir), *args, "--recalibrate", str(tmp_path / "v1")]) == 0
    assert evaluate(["--models-dir", str(tmp_path / "v1"), *args, "--recalibrate", str(tmp_path / "v2")]) == 0
    first = json.loads((tmp_path / "v1" / "lr" / MANIFEST).read_text())
    second = json.loads((tmp_path / "v2" / "lr" / MANIFEST).read_text())
    assert second["calibration_variant"]["original_manifest_sha256"] == sha256_file(tmp_path / "v1" / "lr" / MANIFEST)
    assert second["calibration_variant"]["original_calibration"]["temperature"] == pytest.approx(
        first["calibration"]["temperature"])
    # refitted on the same posts, the second fit has little left to correct
    assert second["calibration_variant"]["temperature_factor"] == pytest.approx(1.0, abs=0.05)
    assert load_classifier(tmp_path / "v2" / "lr").calibration.temperature == pytest.approx(
        second["calibration"]["temperature"])


def test_a_source_where_the_target_cannot_be_met_abstains_on_every_post_and_says_so():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    shown = np.full((300, 2), 0.5)
    shown[np.arange(300), rng.integers(0, 2, 300)] = 0.9  # sure of itself, right half the time
    shown /= shown.sum(1, keepdims=True)
    fitted = recalibrate(shown, y, 1.0, 0.6)
    assert fitted["threshold"] == 1.0 and fitted["coverage"] == 0.0
    assert fitted["cross_validation"]["after"]["answered_accuracy"] is None
    line = recalibration_sentence("lr", fitted)
    assert "no post answered" in line and "abstains on every post" in line


def test_answer_nothing_means_nothing_even_at_full_confidence():
    from mhexplain.core.classifier import abstains
    from mhexplain.trust.calibration import guaranteed_threshold

    assert abstains([1.0, 0.99], 1.0).tolist() == [True, True]
    assert abstains([1.0, 0.5], 0.9).tolist() == [False, True]
    # a data-chosen threshold at a confidence of exactly 1 still answers those posts
    proba, y = np.tile([1.0, 0.0], (300, 1)), np.zeros(300, dtype=int)  # sure, and right
    chosen = guaranteed_threshold(proba, y, target=0.9)
    assert chosen["threshold"] < 1.0 and not abstains(1.0, chosen["threshold"]) and chosen["coverage"] == 1.0


def test_a_recalibration_that_does_not_help_says_so():
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 2.5, (300, 3))
    truth = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in truth])
    fitted = recalibrate(truth, y, 1.0, 0.5)  # already calibrated: nothing to gain
    if fitted["helps"]:  # a refit may still edge it under cross-validation; force the case
        fitted = {**fitted, "helps": False}
    assert "keep the original" in recalibration_sentence("lr", fitted)
    swapped = recalibrate(truth[:, ::-1], y, 1.0, 0.5)  # labels that are not the model's classes
    assert any("label map" in w for w in swapped["warnings"])
