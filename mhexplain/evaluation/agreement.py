"""Agreement between human coders, and between each model and those coders.

The question a qualitative researcher asks of a classifier is "is it as reliable as a second
coder?". This module answers it from class ids alone: pairwise Cohen's kappa, nominal
Krippendorff's alpha (which tolerates missing codes), and the coders' majority, each with a
percentile bootstrap interval over the items.

Every statistic is reduced from per-item count columns, so a resample is just a vector of item
weights and one matrix product evaluates every statistic on every resample at once. The counts
are whole numbers, so those products are exact in float64 whatever the BLAS sums in which order:
a seed gives the same report on every platform.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import combinations

import numpy as np

from mhexplain.evaluation.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

MISSING = -1
MAJORITY = "majority of coders"
_LEVEL = 0.95
# Rows of resample weights held at once are capped so that a large test set stays in memory.
_CHUNK_CELLS = 4_000_000
# Expected agreement this close to 1 leaves kappa 0/0, as scikit-learn reports it (nan).
_UNDEFINED = 1e-12

# A statistic: its per-item count columns, and how the (weighted) column sums become the value.
Statistic = tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]


KAPPA_COLUMN = "Cohen's κ"  # the rows' column a page or command reads the value from

def _codes(values, n_labels: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{what} must be a one-dimensional array of integer class ids.")
    arr = arr.astype(np.int64)
    bad = arr[(arr < MISSING) | (arr >= n_labels)]
    if bad.size:
        raise ValueError(f"{what} holds the id {int(bad[0])}, outside -1..{n_labels - 1}: map each label to a "
                         f"class id first, with -1 for an item that was not coded.")
    return arr


def _same_length(arrays: dict[str, np.ndarray]) -> int:
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        raise ValueError(f"Every coder and model must label the same items, but the lengths differ ({listed}).")
    return next(iter(lengths.values()), 0)


def _coder_matrix(matrix, n_labels: int) -> np.ndarray:
    arr = np.asarray(matrix)
    if arr.ndim != 2:
        raise ValueError("The reliability data must be a two-dimensional (coders x items) array of class ids.")
    return np.vstack([_codes(row, n_labels, f"Coder {i + 1}") for i, row in enumerate(arr)])


def _value_counts(matrix: np.ndarray, n_labels: int) -> np.ndarray:
    """(items x classes) counts of the codes each item received."""
    n_items = matrix.shape[1]
    coded = matrix >= 0
    items = np.broadcast_to(np.arange(n_items), matrix.shape)[coded]
    flat = np.bincount(items * n_labels + matrix[coded], minlength=n_items * n_labels)
    return flat.reshape(n_items, n_labels)


def _majority_of(counts: np.ndarray) -> np.ndarray:
    """The code most coders gave, where at least two coded the item (one coder alone is no
    majority) and no other code ties with it."""
    top = counts.max(axis=1)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    return np.where((counts.sum(axis=1) >= 2) & unique, counts.argmax(axis=1), MISSING)


def _kappa_columns(a: np.ndarray, b: np.ndarray, n_labels: int) -> np.ndarray:
    """Per item: coded by both, both agree, then one-hot codes of ``a`` and of ``b`` where both coded."""
    both = (a >= 0) & (b >= 0)
    cols = np.zeros((len(a), 2 + 2 * n_labels))
    cols[:, 0] = both
    cols[:, 1] = both & (a == b)
    rows = np.flatnonzero(both)
    cols[rows, 2 + a[rows]] = 1
    cols[rows, 2 + n_labels + b[rows]] = 1
    return cols


def _kappa_from_sums(sums: np.ndarray, n_labels: int) -> np.ndarray:
    n = sums[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = sums[:, 1] / n
        pa = sums[:, 2:2 + n_labels] / n[:, None]
        pb = sums[:, 2 + n_labels:] / n[:, None]
        expected = (pa * pb).sum(axis=1)
        kappa = (observed - expected) / (1 - expected)
    return np.where((n >= 2) & (1 - expected > _UNDEFINED), kappa, np.nan)


def _alpha_columns(matrix: np.ndarray, n_labels: int) -> np.ndarray:
    """Per item with two codes or more (the pairable ones): 1, its number of codes, its code counts,
    then its ordered pairs of matching codes in the column of its number of codes (2..coders).

    The coincidence matrix weighs an item's pairs by 1/(codes - 1); keeping each size apart keeps
    the sums whole numbers until that division.
    """
    counts = _value_counts(matrix, n_labels)
    m = counts.sum(axis=1)
    rows = np.flatnonzero(m >= 2)
    cols = np.zeros((matrix.shape[1], 2 + n_labels + max(matrix.shape[0] - 1, 0)))
    cols[rows, 0] = 1
    cols[rows, 1] = m[rows]
    cols[rows, 2:2 + n_labels] = counts[rows]
    cols[rows, 2 + n_labels + m[rows] - 2] = (counts[rows] * (counts[rows] - 1)).sum(axis=1)
    return cols


def _alpha_from_sums(sums: np.ndarray, n_labels: int) -> np.ndarray:
    """Nominal alpha = 1 - observed / expected disagreement, from the coincidence matrix's diagonal
    (matching pairs) and its margins (how often each class was used among pairable values)."""
    n = sums[:, 1]
    per_class = sums[:, 2:2 + n_labels]
    sizes = np.arange(2, 2 + sums.shape[1] - 2 - n_labels)
    matching = (sums[:, 2 + n_labels:] / (sizes - 1)).sum(axis=1)
    chance = (per_class * (per_class - 1)).sum(axis=1)
    numerator = (n - 1) * matching - chance
    denominator = n * (n - 1) - chance
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = numerator / denominator
    return np.where(denominator > 0, alpha, np.nan)


def _kappa_stat(a: np.ndarray, b: np.ndarray, n_labels: int) -> Statistic:
    return _kappa_columns(a, b, n_labels), lambda sums: _kappa_from_sums(sums, n_labels)


def _alpha_stat(matrix: np.ndarray, n_labels: int) -> Statistic:
    return _alpha_columns(matrix, n_labels), lambda sums: _alpha_from_sums(sums, n_labels)


def _point(stat: Statistic) -> float:
    cols, reduce = stat
    return float(reduce(cols.sum(axis=0, keepdims=True))[0])


def cohen_kappa(a, b, n_labels: int) -> float:
    """Cohen's kappa of two coders over the items both coded (-1: not coded); nan with fewer than
    two such items or where chance agreement is total (kappa's 0/0)."""
    a, b = _codes(a, n_labels, "The first coder's labels"), _codes(b, n_labels, "The second coder's labels")
    _same_length({"first coder": a, "second coder": b})
    return _point(_kappa_stat(a, b, n_labels))


def krippendorff_alpha(matrix, n_labels: int) -> float:
    """Nominal Krippendorff's alpha of a (coders x items) matrix of class ids, -1 where a coder did not
    code an item; items with fewer than two codes carry no pair and are left out. nan where
    undefined (no pairable item, or a single class used throughout)."""
    return _point(_alpha_stat(_coder_matrix(matrix, n_labels), n_labels))


def majority(coder_matrix) -> np.ndarray:
    """Per item, the code most of the coders who coded it gave; -1 on a tie or where fewer than two coded it."""
    arr = np.asarray(coder_matrix)
    # The ids themselves say how many classes there can be; one class at least keeps the counts shaped.
    n_labels = max(int(arr.max(initial=MISSING)) + 1, 1)
    return _majority_of(_value_counts(_coder_matrix(arr, n_labels), n_labels))


def _resample_weights(n_items: int, n_resamples: int, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, weights): how often each item is drawn in each resample. The draws are those of
    ``metrics.bootstrap_ci`` for the same seed (one ``integers(0, n, n)`` per resample), so the
    agreement intervals rest on the same resampled test sets as the accuracy ones."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // n_items)
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        idx = np.stack([rng.integers(0, n_items, n_items) for _ in range(rows)])
        flat = (np.arange(rows)[:, None] * n_items + idx).ravel()
        yield start, np.bincount(flat, minlength=rows * n_items).reshape(rows, n_items).astype(float)


def _bootstrap(stats: list[Statistic], n_items: int, n_resamples: int, seed: int) -> np.ndarray:
    """(resamples x statistics) values of every statistic on the same resampled item sets."""
    columns = np.hstack([cols for cols, _ in stats])
    edges = np.cumsum([0] + [cols.shape[1] for cols, _ in stats])
    draws = np.empty((n_resamples, len(stats)))
    for start, weights in _resample_weights(n_items, n_resamples, seed):
        sums = weights @ columns
        for j, (_, reduce) in enumerate(stats):
            draws[start:start + len(weights), j] = reduce(sums[:, edges[j]:edges[j + 1]])
    return draws


def _interval(draws: np.ndarray) -> list[float | None]:
    """Percentile interval over the resamples where the statistic is defined."""
    finite = draws[np.isfinite(draws)]
    if not finite.size:
        return [None, None]
    tail = (1 - _LEVEL) / 2
    return [float(np.quantile(finite, tail)), float(np.quantile(finite, 1 - tail))]


def _row_mean(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the defined values (nan where none is), without nanmean's warning."""
    finite = np.isfinite(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0).sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _number(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _validated(coders: dict, models: dict, labels: Sequence[str]) -> tuple[dict, dict, int]:
    if len(labels) < 1:
        raise ValueError("Agreement needs the list of label names the class ids refer to.")
    if len(coders) < 2:
        raise ValueError(f"Agreement between coders needs at least 2 coders, but {len(coders)} were given.")
    n_labels = len(labels)
    coders = {str(k): _codes(v, n_labels, f"Coder {k!r}") for k, v in coders.items()}
    models = {str(k): _codes(v, n_labels, f"Model {k!r}") for k, v in models.items()}
    if not _same_length({**{f"coder {k}": v for k, v in coders.items()},
                         **{f"model {k}": v for k, v in models.items()}}):
        raise ValueError("Agreement needs at least one item, but the coders' label arrays are empty.")
    return coders, models, n_labels


def _plan(coders: dict, models: dict, consensus: np.ndarray, n_labels: int) -> dict[tuple, Statistic]:
    """Every statistic of a report, keyed by what it compares."""
    matrix = np.vstack(list(coders.values()))
    stats = {("pair", a, b): _kappa_stat(coders[a], coders[b], n_labels) for a, b in combinations(coders, 2)}
    stats[("alpha",)] = _alpha_stat(matrix, n_labels)
    for model, pred in models.items():
        for coder, codes in coders.items():
            stats[("model", model, coder)] = _kappa_stat(pred, codes, n_labels)
        stats[("majority", model)] = _kappa_stat(pred, consensus, n_labels)
        stats[("with", model)] = _alpha_stat(np.vstack([matrix, pred]), n_labels)
    return stats


def agreement_report(coders: dict[str, np.ndarray], models: dict[str, np.ndarray], labels: Sequence[str],
                     n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """Agreement between ``coders`` and of each of ``models`` with them, as JSON-ready data.

    Every array holds class ids (indexes into ``labels``) for the same items, -1 where a coder did not
    code an item (or a model abstained). Intervals are 95% percentile bootstraps over the items, the
    same resampled item sets for every statistic, so any two intervals of one report are comparable;
    resamples where a statistic is undefined are left out of its interval, and nan is written as None.

    "n" counts the items a statistic rests on: coded by both sides for kappa, with two codes or more
    for alpha. The majority's "ties" are the items without a majority (a tie, or no coder coded them).
    "coders_mean_kappa" and each model's "mean_kappa_with_coders" (means over the defined kappas,
    intervals over the same resamples) are what ``agreement_summary`` compares.
    """
    coders, models, n_labels = _validated(coders, models, labels)
    n_items = len(next(iter(coders.values())))
    consensus = _majority_of(_value_counts(np.vstack(list(coders.values())), n_labels))
    stats = _plan(coders, models, consensus, n_labels)
    keys = list(stats)
    points = {key: _point(stat) for key, stat in stats.items()}
    draws = dict(zip(keys, _bootstrap(list(stats.values()), n_items, n_resamples, seed).T))
    counts = {key: int(cols[:, 0].sum()) for key, (cols, _) in stats.items()}

    def kappa(key) -> dict:
        return {"kappa": _number(points[key]), "kappa_ci": _interval(draws[key]), "n": counts[key]}

    def alpha(key) -> dict:
        return {"value": _number(points[key]), "ci": _interval(draws[key]), "n": counts[key]}

    def mean(group: list[tuple]) -> dict:
        value = _row_mean(np.array([points[key] for key in group]))
        return {"value": _number(value), "ci": _interval(_row_mean(np.stack([draws[k] for k in group], axis=1)))}

    pairs = [key for key in keys if key[0] == "pair"]
    with_majority = int((consensus >= 0).sum())
    return {
        "coders": list(coders), "n_items": int(n_items), "labels": list(labels),
        "pairs": [{"a": key[1], "b": key[2], **kappa(key)} for key in pairs],
        "alpha": alpha(("alpha",)),
        "majority": {"n": with_majority, "ties": int(n_items) - with_majority},
        "coders_mean_kappa": mean(pairs),
        "models": {model: {"coders": {coder: kappa(("model", model, coder)) for coder in coders},
                           "majority": kappa(("majority", model)),
                           "alpha_with_coders": alpha(("with", model)),
                           "mean_kappa_with_coders": mean([("model", model, coder) for coder in coders])}
                   for model in models},
        "ci_method": f"percentile bootstrap, {n_resamples} resamples of the items, seed {seed}, 95%",
    }


def _format(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def _span(ci: Sequence[float | None]) -> str:
    lo, hi = ci
    return "undefined" if lo is None or hi is None else f"{lo:.2f} – {hi:.2f}"


def _row(between: str, other: str, entry: dict) -> dict:
    kappa = entry["kappa"]
    return {"between": between, "and": other, KAPPA_COLUMN: None if kappa is None else round(kappa, 2),
            "95% interval": _span(entry["kappa_ci"]), "items": entry["n"]}


def agreement_rows(report: dict) -> list[dict]:
    """A flat table of the report: each coder pair, then each model against each coder and against the
    coders' majority."""
    rows = [_row(pair["a"], pair["b"], pair) for pair in report["pairs"]]
    for model, entry in report["models"].items():
        rows += [_row(model, coder, kappa) for coder, kappa in entry["coders"].items()]
        rows.append(_row(model, MAJORITY, entry["majority"]))
    return rows


def agreement_summary(report: dict, model: str) -> str:
    """One plain sentence: does ``model`` agree with the coders as well as they agree with each other?

    The intervals of the two means are compared; overlapping intervals only mean that this test set
    cannot tell the two apart, and the sentence says no more than that.
    """
    if model not in report["models"]:
        raise ValueError(f"The agreement report has no model named {model!r}.")
    mine, theirs = report["models"][model]["mean_kappa_with_coders"], report["coders_mean_kappa"]
    if None in (mine["value"], theirs["value"], *mine["ci"], *theirs["ci"]):
        return (f"{model}'s agreement with the coders cannot be compared with theirs, because Cohen's κ is "
                f"undefined on these items (too few items coded by both, or a single class used throughout).")
    figures = (f"{model}'s mean Cohen's κ with the coders is {_format(mine['value'])} ({_span(mine['ci'])}) "
               f"against {_format(theirs['value'])} ({_span(theirs['ci'])}) between the coders themselves")
    if mine["ci"][0] <= theirs["ci"][1] and theirs["ci"][0] <= mine["ci"][1]:
        return (f"{figures}; the 95% intervals overlap, so on these {report['n_items']} items the model cannot be "
                f"told apart from a second coder, which is not proof that it is as reliable as one.")
    verdict = "less" if mine["value"] < theirs["value"] else "more"
    return (f"{figures}; the 95% intervals do not overlap, so on these {report['n_items']} items the model agrees "
            f"with the coders {verdict} closely than they agree with each other.")
