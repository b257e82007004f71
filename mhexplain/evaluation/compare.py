"""Comparing trained models on their shared test set, from their artifacts alone."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest, chi2
from sklearn.metrics import cohen_kappa_score

from mhexplain.artifacts.folder import read_metrics, read_predictions
from mhexplain.classifiers.catalog import title
from mhexplain.core.classifier import abstains
from mhexplain.core.labels import common_labels, display_names
from mhexplain.evaluation.agreement import agreement_rows
from mhexplain.evaluation.metrics import macro_f1


@dataclass
class ModelResults:
    name: str
    metrics: dict
    predictions: pd.DataFrame
    manifest: dict

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.manifest["labels"])

    @property
    def dataset(self) -> str:
        """Which data the model was trained on, in a few words (the pages say it)."""
        return dataset_caption(self.manifest)

    @property
    def proba_columns(self) -> list[str]:
        return [c for c in self.predictions.columns if c.startswith("p_")]

    @property
    def threshold(self) -> float | None:
        """Calibrated confidence below which the model abstains (None: it always answers)."""
        value = self.manifest.get("calibration", {}).get("threshold")
        return None if value is None else float(value)


def load_results(model_dir: Path, manifest: dict) -> ModelResults:
    return ModelResults(manifest.get("name", Path(model_dir).name), read_metrics(model_dir),
                        read_predictions(model_dir), manifest)


def dataset_caption(manifest: dict) -> str:
    """'file.csv (test: other.csv), 2 classes: no, yes; grouped by author'."""
    data, labels = manifest.get("data", {}), manifest["labels"]
    shown = ", ".join(labels[:6]) + (f", … ({len(labels) - 6} more)" if len(labels) > 6 else "")
    text = f"{data.get('file', 'unknown file')}"
    if data.get("test_file"):
        text += f" (tested on {data['test_file']})"
    text += f", {len(labels)} classes: {shown}"
    group = (data.get("columns") or {}).get("group")
    text += f"; split by {group}" if group else ""
    variant = manifest.get("calibration_variant")
    if variant:
        text += (f"; calibration refitted on {variant['sample']['posts']:,} posts of {variant['sample']['file']} "
                 "(a calibration variant: the model is the original's)")
    return text


def shared_labels(results: list[ModelResults]) -> tuple[str, ...]:
    """The label set every model in ``results`` was trained on; models of different label sets
    cannot be compared (one line)."""
    return common_labels({r.name: r.labels for r in results})


def summary_table(results: list[ModelResults]) -> pd.DataFrame:
    rows = []
    for r in results:
        m = r.metrics
        lo, hi = m["macro_f1_ci"]
        rows.append({"model": r.name, "protocol": m.get("protocol"), "test posts": m.get("n_test"),
                     "accuracy": m["accuracy"], "ECE (calibrated)": m.get("ece"),
                     "ECE 95% CI": "{:.3f}–{:.3f}".format(*m["ece_ci"]) if "ece_ci" in m else None,
                     # what a perfectly calibrated model would score on as many posts (folders before it: none)
                     "ECE floor (perfect calibration)": m["ece_floor"]["mean"] if "ece_floor" in m else None,
                     "ECE before calibration": m.get("ece_uncalibrated"),
                     "macro precision": m["macro_avg"]["precision"],
                     "macro recall": m["macro_avg"]["recall"], "macro F1": m["macro_f1"],
                     "macro F1 95% CI": f"{lo:.3f}–{hi:.3f}", "Cohen's kappa": m["cohen_kappa"],
                     "train/test overlap": m.get("train_test_overlap")})
    return pd.DataFrame(rows)


def per_class_table(results: list[ModelResults], metric: str = "f1") -> pd.DataFrame:
    labels = shared_labels(results)
    data = {r.name: [r.metrics["per_class"][lab][metric] for lab in labels] for r in results}
    return pd.DataFrame(data, index=display_names(labels))


def pr_points(results: list[ModelResults]) -> pd.DataFrame:
    """One row per (model, class): precision and recall, for the precision–recall scatter."""
    labels = shared_labels(results)
    rows = [{"model": r.name, "class": shown, "precision": r.metrics["per_class"][lab]["precision"],
             "recall": r.metrics["per_class"][lab]["recall"], "f1": r.metrics["per_class"][lab]["f1"]}
            for r in results for lab, shown in zip(labels, display_names(labels))]
    return pd.DataFrame(rows)


def misclassified_per_class(results: list[ModelResults]) -> pd.DataFrame:
    """Per model and true class, on the test posts every model was tested on: how many of that
    class's posts it got wrong, and what share of them (models tested on different sets are
    compared on what they share, never by counts from sets of other sizes)."""
    joined = aligned(results)
    rows = []
    for r in results:
        for i, name in enumerate(display_names(shared_labels(results))):
            of_class = joined[joined["true_label"] == i] if len(joined) else joined
            wrong = int((of_class[f"pred_{r.name}"] != i).sum()) if len(of_class) else 0
            rows.append({"model": r.name, "class": name, "posts": len(of_class), "misclassified": wrong,
                         "share misclassified": wrong / len(of_class) if len(of_class) else math.nan})
    return pd.DataFrame(rows)


def confusion(result: ModelResults, normalise: bool = False) -> np.ndarray:
    cm = np.asarray(result.metrics["confusion_matrix"], dtype=float)
    if normalise:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    return cm


def aligned(results: list[ModelResults]) -> pd.DataFrame:
    """The test posts every model was tested on, one row each (post_id, text, true label, and each
    model's prediction and confidence, and for a cascade the member that answered). A post counts
    as shared when its id, text and label agree, so models trained on other data or cleaning never
    pair up different posts; models of different label sets are refused (``shared_labels``)."""
    shared_labels(results)
    base = None
    for r in results:
        answered = ["answered_by"] if "answered_by" in r.predictions.columns else []  # a cascade's
        p = r.predictions[["post_id", "text", "true_label", "pred_label"] + answered + r.proba_columns].copy()
        p[f"conf_{r.name}"] = p[r.proba_columns].max(axis=1)
        p = p.rename(columns={"pred_label": f"pred_{r.name}", "answered_by": f"answered_{r.name}"}).drop(
            columns=r.proba_columns)
        base = p if base is None else base.merge(p, on=["post_id", "text", "true_label"], how="inner")
    return base if base is not None else pd.DataFrame()


def shared_posts_note(results: list[ModelResults]) -> str | None:
    """None when every model was tested on the same posts; else one paragraph saying how many
    each was tested on and that comparisons between them use only the posts they share."""
    sizes = {r.name: len(r.predictions) for r in results}
    shared = len(aligned(results))
    if all(n == shared for n in sizes.values()):
        return None
    each = ", ".join(f"{title(n)} {k:,}" for n, k in sizes.items())
    return (f"These models were tested on different posts ({each}); {shared:,} test posts are shared by all of "
            f"them. Comparisons between models (misclassifications per class, the error explorer, McNemar's test) "
            f"use only those {shared:,} shared posts. Each model's own scores, confusion matrix and calibration are "
            "on its whole test set (its \"test posts\" column), so compare them as rates, not counts.")


def format_p(p: float) -> str:
    """A p-value as it is read: three decimals, and "< 0.001" rather than a row of zeros."""
    if math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def mcnemar(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict:
    """McNemar's test on two models' correctness over the same posts (exact below 25 discordant)."""
    ca, cb = a == y, b == y
    n01, n10 = int((ca & ~cb).sum()), int((~ca & cb).sum())
    n = n01 + n10
    if n == 0:
        return {"a_right_b_wrong": n01, "a_wrong_b_right": n10, "statistic": 0.0, "p_value": 1.0, "exact": True}
    if n < 25:
        p = binomtest(n01, n, 0.5).pvalue
        return {"a_right_b_wrong": n01, "a_wrong_b_right": n10, "statistic": float(min(n01, n10)),
                "p_value": float(p), "exact": True}
    stat = (abs(n01 - n10) - 1) ** 2 / n  # with continuity correction
    return {"a_right_b_wrong": n01, "a_wrong_b_right": n10, "statistic": float(stat),
            "p_value": float(chi2.sf(stat, 1)), "exact": False}


def paired_f1_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, n_labels: int, n_resamples: int = 1000,
                         seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Macro-F1 of A minus B on the same posts, with a 95% interval from resampling the posts
    (both models scored on each resample, so the interval reflects their paired differences)."""
    if len(y) == 0:
        return math.nan, (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_resamples):
        i = rng.integers(0, len(y), len(y))
        diffs.append(macro_f1(y[i], a[i], n_labels) - macro_f1(y[i], b[i], n_labels))
    return macro_f1(y, a, n_labels) - macro_f1(y, b, n_labels), (float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5)))


def leakage_report(results: list[ModelResults], other: list[ModelResults]) -> pd.DataFrame:
    """Each model under two protocols side by side: macro-F1 under each, and on the folder whose
    test posts have verbatim copies in its training split, accuracy on those copies and on the rest."""
    rows = []
    for r in results:
        o = next((x for x in other if x.name == r.name), None)
        if o is None:
            continue
        common_labels({r.name: r.labels, f"{o.name} of the other folder": o.labels})
        # a folder of the same protocol (a calibration variant's, a second seed's) is no leakage comparison
        if o.manifest["split"]["protocol"] == r.manifest["split"]["protocol"]:
            continue
        row = {"model": r.name}
        for res in (r, o):
            proto = res.manifest["split"]["protocol"]
            row[f"macro F1 ({proto})"] = res.metrics["macro_f1"]
            p = res.predictions
            if res.metrics.get("train_test_overlap") and "has_train_copy" in p.columns:
                right = (p["pred_label"] == p["true_label"]).to_numpy()
                copy = p["has_train_copy"].astype(bool).to_numpy()
                row.update({"test posts with a copy in training": int(copy.sum()), "of test posts": len(p),
                            "accuracy on the copies": float(right[copy].mean()),
                            "accuracy on the rest": float(right[~copy].mean())})
        rows.append(row)
    report = pd.DataFrame(rows)
    for count in ("test posts with a copy in training", "of test posts"):
        if count in report.columns:
            report[count] = report[count].astype("Int64")  # a count, even where a row has none
    return report


def pairwise_tests(results: list[ModelResults]) -> pd.DataFrame:
    joined = aligned(results)
    rows = []
    y = joined["true_label"].to_numpy() if len(joined) else np.array([])
    for i, r1 in enumerate(results):
        for r2 in results[i + 1:]:
            a, b = joined[f"pred_{r1.name}"].to_numpy(), joined[f"pred_{r2.name}"].to_numpy()
            t = mcnemar(y, a, b)
            diff, (lo, hi) = paired_f1_difference(y, a, b, len(r1.labels))
            shared = len(y) > 0  # with no post in common there is nothing to test
            rows.append({"model A": r1.name, "model B": r2.name, "posts": len(y),
                         "macro-F1 A − B": diff,
                         "A − B 95% CI (paired bootstrap)": f"{lo:+.3f} to {hi:+.3f}" if shared else "n/a",
                         "A right, B wrong": t["a_right_b_wrong"], "A wrong, B right": t["a_wrong_b_right"],
                         "McNemar p": format_p(t["p_value"] if shared else math.nan),
                         "Cohen's kappa (A vs B)": float(cohen_kappa_score(a, b)) if shared else math.nan})
    return pd.DataFrame(rows)


def operating_points(results: list[ModelResults]) -> pd.DataFrame:
    """Each model at its abstention threshold on the test set: how many posts it answers and how
    accurately, next to its accuracy on all of them."""
    rows = []
    for r in results:
        p = r.predictions
        conf = p[r.proba_columns].max(axis=1).to_numpy()
        right = (p["pred_label"] == p["true_label"]).to_numpy()
        answered = ~abstains(conf, r.threshold)
        cal = r.manifest.get("calibration", {})
        bound = cal.get("accuracy_lower_bound")
        rows.append({"model": r.name, "threshold": r.threshold, "coverage": float(answered.mean()),
                     "accuracy answered": float(right[answered].mean()) if answered.any() else math.nan,
                     "accuracy all": float(right.mean()),
                     "target": float(cal.get("target_accuracy", math.nan)),
                     # what the threshold promised on held-out posts (folders made before the guarantee: none)
                     "held-out lower bound": float(bound) if bound is not None else math.nan,
                     "δ": float(cal["delta"]) if cal.get("delta") is not None else math.nan})
    return pd.DataFrame(rows)


def group_leakage(results: list[ModelResults]) -> pd.DataFrame:
    """For models split by a group column (author, thread): groups on both sides of their split
    (0) beside what a row-level split of the same posts would have put on both sides."""
    rows = []
    for r in results:
        g = r.manifest["split"].get("grouping")
        if not g:
            continue
        row_level = g["row_level_split"]
        rows.append({"model": r.name, "grouped by": (r.manifest["data"].get("columns") or {}).get("group"),
                     "groups": g["groups"], "groups on both sides": g["groups_in_both"],
                     "row-level split: groups on both sides": row_level["groups_in_both"],
                     "row-level split: test posts whose group is in training": row_level["test_rows_in_shared_groups"]})
    return pd.DataFrame(rows)


def agreement_table(results: list[ModelResults]) -> pd.DataFrame:
    """Coders against each other, and each model against each coder and their majority, from the
    models' metrics (``coder_agreement``: trained with ``--coder-cols``); empty without coders."""
    rows, seen = [], set()
    for r in results:
        report = r.metrics.get("coder_agreement")
        if not report:
            continue
        for row in agreement_rows(report):
            key = (row["between"], row["and"])
            if key not in seen:
                seen.add(key)
                rows.append(row)
    return pd.DataFrame(rows)
