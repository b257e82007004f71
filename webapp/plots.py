"""Plotly figures for the app, with one colour per model on every page."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from mhexplain.classifiers.catalog import colour, title  # noqa: F401 (the pages read both from here)
from mhexplain.core.labels import DISPLAY_NAMES, LABELS
from mhexplain.evaluation.probe import VARIANTS


def confusion_heatmap(cm: np.ndarray, name: str, normalised: bool) -> go.Figure:
    text = [[f"{v:.2f}" if normalised else f"{int(v)}" for v in row] for row in cm]
    fig = go.Figure(go.Heatmap(z=cm, x=list(DISPLAY_NAMES), y=list(DISPLAY_NAMES), text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False,
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    shown = "row-normalised" if normalised else f"{int(np.sum(cm)):,} posts"
    fig.update_layout(title=f"{title(name)}: confusion matrix ({shown})",
                      xaxis_title="predicted class", yaxis_title="true class", yaxis_autorange="reversed",
                      height=420, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def pr_scatter(points: pd.DataFrame) -> go.Figure:
    fig = px.scatter(points, x="recall", y="precision", color="model", symbol="class", hover_data=["f1"],
                     color_discrete_map={m: colour(m) for m in points["model"].unique()})
    fig.update_traces(marker=dict(size=13, line=dict(width=1, color="white")))
    fig.update_layout(title="Per-class precision and recall, every model", xaxis_title="recall",
                      yaxis_title="precision", height=480)
    return fig


def misclassification_bars(df: pd.DataFrame) -> go.Figure:
    """The share of each true class's shared test posts that each model got wrong (counts in the hover)."""
    n_posts = int(df.drop_duplicates("class")["posts"].sum()) if len(df) else 0
    fig = px.bar(df, x="class", y="share misclassified", color="model", barmode="group",
                 custom_data=["misclassified", "posts"],
                 color_discrete_map={m: colour(m) for m in df["model"].unique()})
    fig.update_traces(hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]})")
    fig.update_layout(title=f"Misclassified test posts per true class ({n_posts:,} posts every model was tested on)",
                      xaxis_title="true class", yaxis_title="share of the class's posts misclassified",
                      yaxis_tickformat=".0%", height=420)
    return fig


def probability_bars(proba: dict[str, np.ndarray]) -> go.Figure:
    fig = go.Figure()
    for name, p in proba.items():
        fig.add_bar(name=title(name), x=list(DISPLAY_NAMES), y=list(p), marker_color=colour(name),
                    hovertemplate="%{x}: %{y:.3f}<extra>" + title(name) + "</extra>")
    fig.update_layout(barmode="group", title="Class probabilities per model (calibrated)", xaxis_title="class",
                      yaxis_title="calibrated probability", yaxis_range=[0, 1], height=360)
    return fig


def reliability_diagram(results) -> go.Figure:
    """Accuracy against mean calibrated confidence per bin, one line per model (dotted: before
    calibration); the diagonal is perfect calibration."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "#bbbbbb", "dash": "dash"},
                               name="perfectly calibrated", hoverinfo="skip"))
    for r in results:
        for key, dash, suffix in (("reliability", "solid", ""), ("reliability_uncalibrated", "dot", " (raw)")):
            rows = [b for b in r.metrics.get(key, []) if b["count"]]
            if not rows:
                continue
            fig.add_trace(go.Scatter(
                x=[b["confidence"] for b in rows], y=[b["accuracy"] for b in rows], mode="lines+markers",
                name=f"{title(r.name)}{suffix}", line={"color": colour(r.name), "dash": dash},
                marker={"size": [4 + 16 * (b["count"] / max(x["count"] for x in rows)) ** 0.5 for b in rows]},
                customdata=[b["count"] for b in rows],
                hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} posts<extra></extra>"))
    fig.update_layout(title="Reliability: how often a post shown at confidence c is right",
                      xaxis_title="mean confidence in the bin", yaxis_title="accuracy in the bin",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02], height=460)
    return fig


def coverage_plot(results, points: pd.DataFrame) -> go.Figure:
    """Selective prediction: accuracy on the posts a model answers as it answers fewer, with each
    model's chosen operating point."""
    fig = go.Figure()
    for r in results:
        curve = r.metrics.get("coverage_curve", [])
        fig.add_trace(go.Scatter(x=[c["coverage"] for c in curve], y=[c["accuracy"] for c in curve],
                                 mode="lines", name=title(r.name), line={"color": colour(r.name)}))
        pt = points[points["model"] == r.name]
        if len(pt) and pt["threshold"].notna().iloc[0]:  # a model without a threshold always answers
            fig.add_trace(go.Scatter(x=pt["coverage"], y=pt["accuracy answered"], mode="markers",
                                     marker={"color": colour(r.name), "size": 12, "symbol": "diamond"},
                                     name=f"{title(r.name)}: abstains below {float(pt['threshold'].iloc[0]):.3f}"))
    fig.update_layout(title="Coverage and accuracy: answering only the posts a model is surest of",
                      xaxis_title="share of test posts answered", yaxis_title="accuracy on answered posts",
                      xaxis_range=[0, 1.02], height=420)
    return fig


def probe_bars(results: list[dict]) -> go.Figure:
    """Macro-F1 of every model on the test posts as written, without the condition words, and
    without as many random other words."""

    fig = go.Figure()
    shades = {"as written": 1.0, "condition words deleted": 0.55, "random words deleted": 0.8}
    for v in VARIANTS:
        fig.add_bar(name=v, x=[title(r["model"]) for r in results],
                    y=[r["variants"][v]["macro_f1"] for r in results], opacity=shades[v],
                    marker_color=[colour(r["model"]) for r in results],
                    hovertemplate="%{x}: macro-F1 %{y:.3f}<extra>" + v + "</extra>")
    fig.update_layout(barmode="group", title="Shortcut probe: macro-F1 with the condition's name deleted",
                      yaxis_title="macro-F1 on the test posts", yaxis_range=[0, 1], height=380)
    return fig


def share_bars(results: list[dict]) -> go.Figure:
    """Where each model sends an external file's posts: the share predicted as each of our classes."""

    fig = go.Figure()
    for r in results:
        fig.add_bar(name=title(r["model"]), x=list(DISPLAY_NAMES), y=[r["prediction_share"][lab] for lab in LABELS],
                    marker_color=colour(r["model"]),
                    hovertemplate="%{x}: %{y:.1%}<extra>" + title(r["model"]) + "</extra>")
    fig.update_layout(barmode="group", title="Predicted classes on this file", yaxis_title="share of its posts",
                      yaxis_tickformat=".0%", height=360)
    return fig
