import numpy as np
import pytest
from sklearn.metrics import f1_score

from mhexplain.datasets.dataset import KAGGLE_LABELS
from mhexplain.evaluation.metrics import accuracy, bootstrap_ci, classification_metrics, macro_f1
from mhexplain.evaluation.metrics import macro_f1 as macro_f1_of


def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    assert macro_f1(y, p, 5) == pytest.approx(f1_score(y, p, average="macro", labels=range(5), zero_division=0))
    # a class absent from both truth and prediction counts as 0, like sklearn's zero_division=0
    y2, p2 = np.array([0, 1, 1]), np.array([0, 1, 0])
    assert macro_f1(y2, p2, 5) == pytest.approx(f1_score(y2, p2, average="macro", labels=range(5), zero_division=0))


def test_bootstrap_of_perfect_predictions_is_a_point():
    y = np.arange(50) % 5
    assert bootstrap_ci(y, y, accuracy) == [1.0, 1.0]


def test_bootstrap_matches_binomial_interval():
    # Accuracy 0.5 on 10,000 items: the 95% interval is 0.5 ± 1.96 * sqrt(0.25 / n) = ±0.0098.
    y = np.zeros(10_000, dtype=int)
    p = np.tile([0, 1], 5_000)
    lo, hi = bootstrap_ci(y, p, accuracy, n_resamples=1000, seed=1)
    assert lo == pytest.approx(0.5 - 0.0098, abs=0.0015)
    assert hi == pytest.approx(0.5 + 0.0098, abs=0.0015)


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)

    def macro_f1(a, b):
        return macro_f1_of(a, b, 5)

    # the same seed draws the same resamples; each other seed its own (these five are known to differ)
    assert bootstrap_ci(y, p, macro_f1, seed=7) == bootstrap_ci(y, p, macro_f1, seed=7)
    assert bootstrap_ci(y, p, macro_f1) == bootstrap_ci(y, p, macro_f1, seed=0)  # the default seed is 0
    intervals = {tuple(bootstrap_ci(y, p, macro_f1, seed=s)) for s in (0, 1, 2, 7, 123)}
    assert len(intervals) == 5


def test_classification_metrics_contents():
    y = np.array([0, 1, 2, 3, 4, 0])
    proba = np.eye(5)[[0, 1, 2, 3, 3, 1]]
    m = classification_metrics(y, proba, KAGGLE_LABELS, n_resamples=50)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"][4][3] == 1 and m["confusion_matrix"][0][1] == 1
    assert m["per_class"]["anxiety"]["recall"] == 0.0
    assert m["per_class"]["stress"]["support"] == 2
    # observed agreement 4/6, chance agreement (2*1 + 1*2 + 1*1 + 1*2 + 1*0) / 36 = 7/36
    assert m["cohen_kappa"] == pytest.approx((4 / 6 - 7 / 36) / (1 - 7 / 36))
    assert m["macro_f1_ci"][0] <= m["macro_f1"] <= m["macro_f1_ci"][1]


def test_paired_bootstrap_difference():
    from mhexplain.evaluation.compare import paired_f1_difference

    y = np.array([0, 1, 2, 3, 4] * 20)
    same, (lo, hi) = paired_f1_difference(y, y.copy(), y.copy(), 5)
    assert same == 0.0 and lo == 0.0 and hi == 0.0
    worse = y.copy()
    worse[:30] = (worse[:30] + 1) % 5  # 30 of 100 wrong
    diff, (lo, hi) = paired_f1_difference(y, y, worse, 5)
    assert diff == pytest.approx(1.0 - macro_f1(y, worse, 5)) and 0 < lo < diff < hi


def test_macro_averages_over_the_classes_asked_for():
    y = np.array([0, 0, 2, 2, 4, 4])
    pred = np.array([0, 1, 2, 2, 4, 0])  # one post predicted as depression, a class y lacks
    proba = np.eye(5)[pred]
    m = classification_metrics(y, proba, KAGGLE_LABELS, n_resamples=50, average_over=[0, 2, 4])
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, labels=[0, 2, 4], average="macro", zero_division=0))
    assert m["macro_f1"] > classification_metrics(y, proba, KAGGLE_LABELS, n_resamples=50)["macro_f1"]
    assert m["averaged_over"] == ["stress", "bipolar", "anxiety"] and m["macro_f1_ci"][1] <= 1.0
    assert macro_f1(y, pred, 5, classes=[2]) == 1.0


def test_the_macro_f1_interval_holds_its_estimate_on_a_small_test_set_of_many_classes():
    """A resample that misses a class must not score it 0: 100 classes, one post each, all right."""
    y = np.arange(100)
    proba = np.eye(100)[y]
    m = classification_metrics(y, proba, [f"c{i}" for i in range(100)], n_resamples=50)
    assert m["macro_f1"] == 1.0 and m["macro_f1_ci"] == [1.0, 1.0]
