"""What a cascade or an ensemble reports about itself, as tables the Compare page shows: the
cascade's cost against its accuracy, and every model's speed, from its folder's metrics alone."""
from __future__ import annotations

import time

import pandas as pd

from mhexplain.classifiers.catalog import title
from mhexplain.core.classifier import Classifier
from mhexplain.evaluation.compare import ModelResults
from mhexplain.preprocess import clear_memo
from mhexplain.scoring.table import predict

# Test posts the Compare page times each model on when a reader asks: a few seconds for BERT on a CPU.
TIMED_POSTS = 100


def posts_per_second(clf: Classifier, texts: list[str]) -> float:
    """Posts per second ``clf`` scores ``texts`` at, through the one scoring path, after a warm-up."""
    predict(clf, texts[:8])  # warm-up: lazy loading (NLTK data, torch kernels) is not speed
    clear_memo()  # each model preprocesses the posts anew, as it would a new post
    t0 = time.perf_counter()
    predict(clf, texts)
    return len(texts) / max(time.perf_counter() - t0, 1e-9)


def speeds_here(models: dict[str, Classifier], result: ModelResults, posts: int = TIMED_POSTS) -> pd.DataFrame:
    """A combination's members and itself timed on this machine, on its first test posts."""
    report = result.metrics["combination"]
    texts = result.predictions["text"].astype(str).tolist()[:posts]
    names = [m for m in report["members"] if m in models] + [result.name]
    return pd.DataFrame([{"model": title(n), "posts/s here": posts_per_second(models[n], texts),
                          "posts": len(texts)} for n in names])


def combined(results: list[ModelResults]) -> list[ModelResults]:
    """The results of models made of others (their metrics say how they were combined)."""
    return [r for r in results if r.metrics.get("combination")]


def speeds_of(report: dict) -> dict[str, float]:
    """Posts per second measured for each model when the combination was built (none: not measured)."""
    return {s["model"]: s["posts_per_second"] for s in report.get("speed", {}).get("posts_per_second", [])}


def estimated_speed(speeds: dict, members: list[str], share_routed: float) -> float | None:
    """A cascade's posts per second when it routes ``share_routed`` of its posts: the first member
    reads every post and the second the routed share, at the speeds measured for each alone."""
    first, second = (speeds.get(m) for m in members)
    if not first or not second:
        return None
    return 1.0 / (1.0 / first + share_routed / second)


def cascade_curve(result: ModelResults) -> pd.DataFrame:
    """Share of test posts routed to the second member against test macro-F1, at thresholds that
    route 0% to 100% of the held-out training posts; the operating point marked."""
    report = result.metrics["combination"]
    speeds = speeds_of(report)
    chosen = report["operating_point"]["route_below"]
    rows = [{"model": result.name, "routing threshold": p["route_below"], "share routed": p["share_routed"],
             "macro-F1": p["macro_f1"], "held-out share routed": p["validation_share_routed"],
             "held-out macro-F1": p["validation_macro_f1"],
             "posts/s (estimated)": estimated_speed(speeds, report["members"], p["share_routed"]),
             "operating point": False}
            for p in report["curve"] if p["route_below"] != chosen]
    p = report["operating_point"]
    rows.append({"model": result.name, "routing threshold": p["route_below"], "share routed": p["share_routed"],
                 "macro-F1": p["macro_f1"], "held-out share routed": p["validation_share_routed"],
                 "held-out macro-F1": p["validation_macro_f1"],
                 "posts/s (estimated)": estimated_speed(speeds, report["members"], p["share_routed"]),
                 "operating point": True})
    return pd.DataFrame(rows).sort_values("routing threshold", kind="stable").reset_index(drop=True)


def combination_table(results: list[ModelResults]) -> pd.DataFrame:
    """One row per combination: its members, how it was chosen, its test macro-F1 beside each
    member's, and the posts per second measured for it and each member when it was built."""
    rows = []
    for r in combined(results):
        report = r.metrics["combination"]
        speed = report.get("speed", {})
        per_second = speeds_of(report)
        alone = {m["name"]: m["macro_f1"] for m in report["members_alone"]}
        members = report["members"]
        row = {"model": title(r.name), "members": " → ".join(members) if report["method"] == "cascade"
               else " + ".join(members), "macro-F1": r.metrics["macro_f1"],
               "members' macro-F1": ", ".join(f"{m} {alone[m]:.3f}" for m in members if m in alone),
               "posts/s": per_second.get(r.name),
               "members' posts/s": ", ".join(f"{m} {per_second[m]:,.0f}" for m in members if m in per_second),
               "measured on": speed.get("machine", "")}
        if report["method"] == "cascade":
            row["share routed"] = report["operating_point"]["share_routed"]
        rows.append(row)
    return pd.DataFrame(rows)
