import json

import numpy as np
import pytest

from mhexplain.artifacts.registry import read_calibration
from mhexplain.core import classifier
from mhexplain.core.errors import ArtifactError
from mhexplain.trust.calibration import (
    Calibrated,
    Calibration,
    brier,
    coverage_curve,
    ece,
    ece_floor,
    fit_temperature,
    guaranteed_threshold,
    reliability,
    scale,
)


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_scaling_never_changes_the_class_and_t1_is_identity():
    rng = np.random.default_rng(0)
    p = _softmax(rng.normal(size=(200, 5)) * 3)
    for t in (0.3, 1.0, 4.0):
        q = scale(p, t)
        assert (q.argmax(1) == p.argmax(1)).all() and np.allclose(q.sum(1), 1)
    assert np.allclose(scale(p, 1.0), p)
    assert (scale(p, 0.5).max(1) >= p.max(1) - 1e-12).all()  # T < 1 sharpens


def test_fitted_temperature_recovers_the_one_that_made_the_data():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(20000, 5)) * 2
    y = np.array([rng.choice(5, p=row) for row in _softmax(z)])  # labels drawn from softmax(z)
    overconfident = _softmax(z * 2.5)  # the model's probabilities: its logits are 2.5x too large
    assert fit_temperature(overconfident, y) == pytest.approx(2.5, rel=0.05)


def test_ece_reliability_and_brier_on_hand_computed_values():
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 1, 0, 0])
    # bins: 0.9 (2 posts, accuracy 0.5, gap 0.4), 0.6 (2 posts, accuracy 1.0, gap 0.4) -> ECE 0.4
    assert ece(p, y, bins=10) == pytest.approx(0.4)
    rows = [r for r in reliability(p, y, bins=10) if r["count"]]
    assert [(r["count"], r["confidence"], r["accuracy"]) for r in rows] == [(2, 0.6, 1.0), (2, 0.9, 0.5)]
    assert brier(p, y) == pytest.approx(((0.1**2 * 2) + (0.9**2 * 2) + 2 * (0.4**2 * 2)) / 4)


def test_the_threshold_asks_for_evidence_not_just_an_average():
    conf = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    right = np.array([1, 1, 1, 0, 1, 0], dtype=bool)
    p = np.column_stack([conf, 1 - conf])
    y = np.where(right, 0, 1)
    # three right answers in a row reach 100%, but three posts cannot show 80% at 95% confidence
    chosen = guaranteed_threshold(p, y, target=0.8)
    assert chosen["threshold"] == 1.0 and chosen["coverage"] == 0.0 and chosen["accuracy"] is None
    curve = coverage_curve(p, y)
    assert curve[-1]["coverage"] == 1.0 and curve[-1]["accuracy"] == pytest.approx(4 / 6)


def _calibrated_posts(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Two-class posts whose confidence is exactly their chance of being right."""
    conf = rng.uniform(0.5, 1.0, n)
    y = np.where(rng.random(n) < conf, 0, 1)
    return np.column_stack([conf, 1 - conf]), y


def test_the_guaranteed_threshold_keeps_its_target_on_new_posts():
    """Chosen on 3,000 held-out posts, it must hold on new ones in at least 1 - delta of the draws;
    the plain rule (the largest set whose held-out accuracy reaches the target) misses half the time."""
    met, plain_met = [], []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        held_p, held_y = _calibrated_posts(3000, rng)
        new_p, new_y = _calibrated_posts(50_000, rng)
        chosen = guaranteed_threshold(held_p, held_y, target=0.85, delta=0.05)
        assert 0 < chosen["coverage"] < 0.6 and chosen["accuracy_lower_bound"] >= 0.85
        answered = new_p.max(1) >= chosen["threshold"]
        met.append((new_p.argmax(1) == new_y)[answered].mean() >= 0.85)
        order = np.argsort(-held_p.max(1))
        acc = np.cumsum((held_p.argmax(1) == held_y)[order]) / np.arange(1, 3001)
        plain = held_p.max(1)[order][np.flatnonzero(acc >= 0.85)[-1]]
        plain_met.append((new_p.argmax(1) == new_y)[new_p.max(1) >= plain].mean() >= 0.85)
    assert sum(met) >= 28 and sum(plain_met) <= 25


class _Fixed:
    name, labels, batch_size = "fixed", ("a", "b", "c"), 8

    def predict_proba(self, texts):
        return np.tile([0.7, 0.2, 0.1], (len(texts), 1))


def test_calibrated_wrapper_scales_and_keeps_raw(tmp_path):
    cal = Calibration(temperature=2.0, threshold=0.55, target_accuracy=0.85, fitted_on="test", n=10)
    clf = Calibrated(_Fixed(), cal)
    raw, p = clf.raw_proba(["x"]), clf.predict_proba(["x"])
    assert np.allclose(raw, [[0.7, 0.2, 0.1]]) and np.allclose(p, scale(raw, 2.0)) and p.argmax() == 0
    # T=2 takes square roots: 0.7, 0.2, 0.1 -> 0.523, 0.280, 0.198, below the 0.55 threshold
    assert p.max() == pytest.approx(0.7**0.5 / (0.7**0.5 + 0.2**0.5 + 0.1**0.5))
    threshold = classifier.abstention_threshold(clf)  # the ability, read as every caller reads it
    assert threshold == 0.55 and classifier.abstention_threshold(_Fixed()) is None
    assert classifier.abstains(p.max(1), threshold).tolist() == [True]
    assert classifier.abstains(raw.max(1), threshold).tolist() == [False]
    cal.save(tmp_path)
    assert read_calibration(tmp_path) == cal
    (tmp_path / "calibration.json").write_text(json.dumps({**cal.__dict__, "temperature": -1}))
    with pytest.raises(ArtifactError, match="temperature should be above 0"):
        read_calibration(tmp_path)
    (tmp_path / "calibration.json").write_text("{broken")
    with pytest.raises(ArtifactError, match="calibration.json is missing or corrupt"):
        read_calibration(tmp_path)


def test_a_calibration_file_is_held_to_one_rule(tmp_path):
    """The schema let a temperature of 1000 through and the loader then refused it (< 1000)."""
    cal = Calibration(temperature=1000.0, threshold=0.5, target_accuracy=0.85, fitted_on="validation", n=10)
    cal.save(tmp_path)
    assert read_calibration(tmp_path) == cal
    (tmp_path / "calibration.json").write_text(json.dumps({**cal.__dict__, "temperature": 1000.5}))
    with pytest.raises(ArtifactError, match=r"temperature should be above 0 and at most 1000, not 1000\.5; retrain"):
        read_calibration(tmp_path)


def test_trained_models_are_calibrated_on_training_data_only(trained_dir):
    import pandas as pd

    for name in ("nb", "lr"):
        d = trained_dir / name
        m = json.loads((d / "metrics.json").read_text())
        man = json.loads((d / "manifest.json").read_text())
        preds = pd.read_csv(d / "predictions.csv")
        p = preds[[c for c in preds.columns if c.startswith("p_")]].to_numpy()
        raw = preds[[c for c in preds.columns if c.startswith("raw_p_")]].to_numpy()
        assert (p.argmax(1) == raw.argmax(1)).all()  # macro-F1 unchanged by calibration
        assert np.allclose(p, scale(raw, man["calibration"]["temperature"]))
        assert "out-of-fold" in man["calibration"]["fitted_on"]
        assert m["ece"] == pytest.approx(ece(p, preds["true_label"].to_numpy()))
        assert m["ece_uncalibrated"] == pytest.approx(ece(raw, preds["true_label"].to_numpy()))
        assert m["ece_ci"][0] <= m["ece"] <= m["ece_ci"][1]
        assert {"brier", "log_loss", "reliability"} <= set(m)


def test_the_operating_points_show_what_the_threshold_promised(trained_dir):
    from mhexplain.artifacts.folder import read_manifest, read_metrics
    from mhexplain.evaluation.compare import load_results, operating_points

    results = [load_results(trained_dir / n, read_manifest(trained_dir / n)) for n in ("nb", "lr")]
    points = operating_points(results)
    for r, row in zip(results, points.to_dict("records")):
        report = read_metrics(trained_dir / r.name)["abstention"]
        assert row["δ"] == report["delta"] == 0.05 and row["threshold"] == report["threshold"]
        assert row["coverage"] == pytest.approx(report["test_coverage"])
        if report["held_out_accuracy_lower_bound"] is not None:  # some held-out set passed the bound
            assert row["held-out lower bound"] >= row["target"] == 0.85


def test_the_ece_floor_is_what_perfect_calibration_scores_on_so_few_posts():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.4, 1.0, 900)
    p = np.column_stack([conf, 1 - conf])
    floor = ece_floor(p, n_resamples=100)
    y = np.where(rng.random(900) < conf, 0, 1)  # one perfectly calibrated draw
    assert 0.01 < floor["mean"] < floor["p95"] < 0.06  # the binned ECE's upward bias at 900 posts
    assert ece(p, y) < floor["p95"] * 1.5
    big = ece_floor(np.column_stack([np.repeat(conf, 50), 1 - np.repeat(conf, 50)]), n_resamples=20)
    assert big["mean"] < floor["mean"] / 3  # it shrinks with the sample


def test_the_metrics_tables_show_the_ece_beside_its_floor(trained_dir):
    from mhexplain.artifacts.folder import read_manifest, read_metrics
    from mhexplain.evaluation.compare import load_results, summary_table

    results = [load_results(trained_dir / n, read_manifest(trained_dir / n)) for n in ("nb", "lr")]
    table = summary_table(results)
    floors = [read_metrics(trained_dir / n)["ece_floor"] for n in ("nb", "lr")]
    assert table["ECE floor (perfect calibration)"].tolist() == [f["mean"] for f in floors]
    assert all(0 <= f["mean"] <= 1 and 0 <= f["p95"] <= 1 and f["draws"] == 200 for f in floors)
