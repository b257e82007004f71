import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from mhexplain.evaluation.agreement import (
    MAJORITY,
    agreement_report,
    agreement_rows,
    agreement_summary,
    cohen_kappa,
    krippendorff_alpha,
    majority,
)
from mhexplain.evaluation.metrics import bootstrap_ci

LABELS = ["anxiety", "depression", "stress"]

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units,
# values 1..5 with "." for a unit an observer did not code; nominal alpha 0.743.
_ = 0
PAPER = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]) - 1  # values 1..5 become class ids 0..4, and "." becomes -1


def _noisy(truth: np.ndarray, rate: float, rng: np.random.Generator, n_labels: int = 3) -> np.ndarray:
    """``truth`` with a ``rate`` share of items recoded at random: a coder (or model) of some reliability."""
    codes = truth.copy()
    flip = rng.random(len(codes)) < rate
    codes[flip] = rng.integers(0, n_labels, flip.sum())
    return codes


@pytest.fixture(scope="module")
def study():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 3, 400)
    coders = {"ana": _noisy(truth, 0.2, rng), "ben": _noisy(truth, 0.25, rng), "cy": _noisy(truth, 0.3, rng)}
    coders["cy"][:50] = -1  # the third coder coded only part of the test set
    models = {"copy": coders["ben"].copy(), "noise": rng.integers(0, 3, 400)}
    return coders, models


def test_cohen_kappa_matches_sklearn_on_items_both_coded():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    b[:150] = a[:150]
    assert cohen_kappa(a, b, 4) == pytest.approx(cohen_kappa_score(a, b))
    a[::7], b[::5] = -1, -1
    both = (a >= 0) & (b >= 0)
    assert cohen_kappa(a, b, 4) == pytest.approx(cohen_kappa_score(a[both], b[both]))
    # a class the file never uses leaves kappa unchanged
    assert cohen_kappa(a, b, 9) == pytest.approx(cohen_kappa_score(a[both], b[both]))


def test_cohen_kappa_is_nan_where_undefined():
    assert np.isnan(cohen_kappa([0, -1, 1], [0, 1, -1], 2))  # one item coded by both
    assert np.isnan(cohen_kappa([1, 1, 1], [1, 1, 1], 2))  # one class throughout: 0/0
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 0, 1], 2) == 1.0


def test_krippendorff_alpha_reproduces_the_published_example():
    assert krippendorff_alpha(PAPER, 5) == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_alpha_two_coders_by_hand():
    # Units (0,0), (0,1), (1,1), (1,1): coincidences o00=2, o01=o10=1, o11=4, so n=8, n0=3, n1=5;
    # alpha = 1 - (n-1) * (o01+o10) / (2 * n0 * n1) = 1 - 7 * 2 / 30 = 8/15.
    assert krippendorff_alpha([[0, 0, 1, 1], [0, 1, 1, 1]], 2) == pytest.approx(8 / 15)


def test_krippendorff_alpha_perfect_agreement_and_ignored_items():
    perfect = np.array([[0, 1, 2, 1, 0], [0, 1, 2, 1, 0], [0, 1, -1, 1, 0]])
    assert krippendorff_alpha(perfect, 3) == pytest.approx(1.0)
    # an item with a single code holds no pair, whatever that code is
    lonely = np.hstack([perfect, [[2], [-1], [-1]]])
    assert krippendorff_alpha(lonely, 3) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, -1]], 2))  # a single class: undefined


def test_majority_per_item():
    coders = np.array([[0, 1, 2, -1, 0, -1],
                       [0, 2, 1, -1, 1, -1],
                       [1, 1, -1, 2, -1, -1]])
    # item 3: one coder alone is no majority
    assert majority(coders).tolist() == [0, 1, -1, -1, -1, -1]


def test_report_shape_values_and_json(study):
    coders, models = study
    report = agreement_report(coders, models, LABELS, n_resamples=200)
    assert report["coders"] == ["ana", "ben", "cy"] and report["n_items"] == 400 and report["labels"] == LABELS
    assert [(p["a"], p["b"]) for p in report["pairs"]] == [("ana", "ben"), ("ana", "cy"), ("ben", "cy")]
    ana_cy = report["pairs"][1]
    assert ana_cy["n"] == 350
    assert ana_cy["kappa"] == pytest.approx(cohen_kappa_score(coders["ana"][50:], coders["cy"][50:]))
    assert ana_cy["kappa_ci"][0] < ana_cy["kappa"] < ana_cy["kappa_ci"][1]
    assert report["alpha"]["n"] == 400
    assert report["alpha"]["value"] == pytest.approx(krippendorff_alpha(np.vstack(list(coders.values())), 3))
    consensus = majority(np.vstack(list(coders.values())))
    assert report["majority"] == {"n": int((consensus >= 0).sum()), "ties": int((consensus < 0).sum())}
    copy = report["models"]["copy"]
    assert copy["coders"]["ben"] == {"kappa": 1.0, "kappa_ci": [1.0, 1.0], "n": 400}
    assert copy["majority"]["kappa"] == pytest.approx(cohen_kappa(models["copy"], consensus, 3))
    assert copy["alpha_with_coders"]["n"] == 400
    assert abs(report["models"]["noise"]["mean_kappa_with_coders"]["value"]) < 0.1
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_report_interval_is_the_metrics_bootstrap(study):
    # The report draws the resamples metrics.bootstrap_ci draws for a seed, so a pair both coded
    # throughout gets the interval that a plain loop over scikit-learn's kappa gives.
    coders, _ = study
    report = agreement_report(coders, {}, LABELS, n_resamples=200, seed=3)
    expected = bootstrap_ci(coders["ana"], coders["ben"], cohen_kappa_score, n_resamples=200, seed=3)
    assert report["pairs"][0]["kappa_ci"] == pytest.approx(expected)
    assert report["models"] == {}


def test_report_is_deterministic_for_a_seed(study):
    coders, models = study
    first = agreement_report(coders, models, LABELS, n_resamples=100, seed=11)
    assert agreement_report(coders, models, LABELS, n_resamples=100, seed=11) == first
    assert agreement_report(coders, models, LABELS, n_resamples=100, seed=12) != first


def test_undefined_values_are_written_as_none():
    coders = {"a": np.array([0, -1, -1]), "b": np.array([0, 1, -1])}
    report = agreement_report(coders, {"m": np.array([1, 1, 1])}, ["x", "y"], n_resamples=20)
    assert report["pairs"][0] == {"a": "a", "b": "b", "kappa": None, "kappa_ci": [None, None], "n": 1}
    assert report["alpha"]["value"] is None and report["alpha"]["n"] == 1
    assert "cannot be compared" in agreement_summary(report, "m")
    assert agreement_rows(report)[0]["95% interval"] == "undefined"


@pytest.mark.parametrize("coders, models, match", [
    ({"a": np.array([0, 1])}, {}, "at least 2 coders"),
    ({"a": np.array([0, 1]), "b": np.array([0, 1, 1])}, {}, "lengths differ"),
    ({"a": np.array([0, 1]), "b": np.array([0, 1])}, {"m": np.array([0])}, "lengths differ"),
    ({"a": np.array([0, 3]), "b": np.array([0, 1])}, {}, "id 3, outside -1..2"),
    ({"a": np.array([0, 1]), "b": np.array([-2, 1])}, {}, "id -2"),
    ({"a": np.array([0, 1]), "b": np.array([0, 1])}, {"m": np.array([0.5, 1.0])}, "integer class ids"),
    ({"a": np.array([], dtype=int), "b": np.array([], dtype=int)}, {}, "at least one item"),
])
def test_report_refuses_bad_input(coders, models, match):
    with pytest.raises(ValueError, match=match):
        agreement_report(coders, models, LABELS, n_resamples=10)


def test_functions_refuse_bad_input():
    with pytest.raises(ValueError, match="lengths differ"):
        cohen_kappa([0, 1], [0, 1, 1], 2)
    with pytest.raises(ValueError, match="outside -1..1"):
        krippendorff_alpha([[0, 2], [0, 1]], 2)
    with pytest.raises(ValueError, match="two-dimensional"):
        krippendorff_alpha([0, 1], 2)


def test_rows_table(study):
    coders, models = study
    report = agreement_report(coders, models, LABELS, n_resamples=100)
    rows = agreement_rows(report)
    assert len(rows) == 3 + 2 * (3 + 1)
    assert set(rows[0]) == {"between", "and", "Cohen's κ", "95% interval", "items"}
    copy_ben = next(r for r in rows if r["between"] == "copy" and r["and"] == "ben")
    assert copy_ben == {"between": "copy", "and": "ben", "Cohen's κ": 1.0, "95% interval": "1.00 – 1.00",
                        "items": 400}
    lo, hi = report["pairs"][0]["kappa_ci"]
    assert rows[0]["95% interval"] == f"{lo:.2f} – {hi:.2f}"
    assert [r["and"] for r in rows if r["between"] == "noise"] == ["ana", "ben", "cy", MAJORITY]


def test_summary_says_no_more_than_the_intervals_allow():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 600)
    coders = {"a": _noisy(truth, 0.3, rng), "b": _noisy(truth, 0.3, rng)}
    models = {"like_a_coder": _noisy(truth, 0.3, rng), "guessing": rng.integers(0, 3, 600), "truth": truth}
    report = agreement_report(coders, models, LABELS, n_resamples=200)
    alike = agreement_summary(report, "like_a_coder")
    assert "intervals overlap" in alike and "cannot be told apart" in alike and "not proof" in alike
    worse = agreement_summary(report, "guessing")
    assert "do not overlap" in worse and "less closely than they agree with each other" in worse
    # a model that knows the truth agrees with each noisy coder more than the coders agree together
    assert "more closely than they agree with each other" in agreement_summary(report, "truth")
    with pytest.raises(ValueError, match="no model named"):
        agreement_summary(report, "absent")
