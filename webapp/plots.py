"""Plotly figures for the app: one colour per model, and one per class name, on every page."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from mhexplain.classifiers.catalog import colour, title  # noqa: F401 (the pages read both from here)
from mhexplain.core.labels import display_names
from mhexplain.evaluation.probe import VARIANTS

# Class colours: 24 dark hues (readable on white), then 24 light ones for label sets larger than that.
DARK_CLASS_COLOURS = tuple(px.colors.qualitative.Dark24)
CLASS_PALETTE = DARK_CLASS_COLOURS + tuple(px.colors.qualitative.Light24)
# A model's marker where points are coloured by class; models are few, so a shape each is enough.
MODEL_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "star")
# Up to this many classes a confusion matrix prints its numbers in the cells; beyond, hover only.
CELL_TEXT_MAX = 30


def class_colours(names) -> dict[str, str]:
    """A colour for each class name: the dark hue its name hashes to (a stable hash: Python's own
    hash() of a string changes per process), so one name has one colour on every page and in every
    folder. Names of one label set that hash to one hue are parted, the later in sorted order taking
    the next free dark hue, then a light one once all 24 are taken, so that the colours of a set
    differ while it has no more classes than the palette has colours."""
    n = len(DARK_CLASS_COLOURS)
    taken: set[int] = set()
    picked = {}
    for name in sorted(set(names)):
        h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
        order = [(h + i) % n for i in range(n)] + [n + (h + i) % n for i in range(n)]
        slot = next((k for k in order if k not in taken), h % len(CLASS_PALETTE))
        taken.add(slot)
        picked[name] = CLASS_PALETTE[slot]
    return {name: picked[name] for name in names}


def confusion_heatmap(cm: np.ndarray, name: str, normalised: bool, labels) -> go.Figure:
    """A model's confusion matrix over its ``labels``; the figure grows with the number of classes
    so that 20 of them stay legible."""
    shown = display_names(labels)
    k = len(shown)
    text = [[f"{v:.2f}" if normalised else f"{int(v)}" for v in row] for row in cm]
    fig = go.Figure(go.Heatmap(z=cm, x=shown, y=shown, text=text,
                               texttemplate="%{text}" if k <= CELL_TEXT_MAX else None,
                               textfont={"size": 12 if k <= 8 else 9}, colorscale="Blues", showscale=False,
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    total = "row-normalised" if normalised else f"{int(np.sum(cm)):,} posts"
    fig.update_layout(title=f"{title(name)}: confusion matrix ({total})",
                      xaxis_title="predicted class", yaxis_title="true class", yaxis_autorange="reversed",
                      xaxis={"tickangle": -45 if k > 6 else 0, "automargin": True}, yaxis_automargin=True,
                      height=max(420, min(960, 180 + 30 * k)), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def pr_scatter(points: pd.DataFrame) -> go.Figure:
    """Per-class precision and recall: a point's colour is its class (``class_colours``), its shape
    its model, so that 2 or 20 classes read alike."""
    models = list(dict.fromkeys(points["model"]))
    symbols = {m: MODEL_SYMBOLS[k % len(MODEL_SYMBOLS)] for k, m in enumerate(models)}
    colours = class_colours(list(dict.fromkeys(points["class"])))
    fig = go.Figure()
    for cls, rows in points.groupby("class", sort=False):
        fig.add_trace(go.Scatter(
            x=rows["recall"], y=rows["precision"], mode="markers", name=cls, legendgroup=cls,
            marker={"color": colours[cls], "symbol": [symbols[m] for m in rows["model"]], "size": 13,
                    "line": {"width": 1, "color": "white"}},
            customdata=[[title(m), float(f1)] for m, f1 in zip(rows["model"], rows["f1"])],
            hovertemplate=f"{cls} · %{{customdata[0]}}<br>recall %{{x:.3f}}, precision %{{y:.3f}}, "
                          "F1 %{customdata[1]:.3f}<extra></extra>"))
    for m in models:  # the shapes' legend: markers with no point of their own
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=title(m), legendgroup="models",
                                 legendgrouptitle_text="model", marker={"symbol": symbols[m], "size": 11,
                                                                        "color": "#555555"}))
    fig.update_layout(title="Per-class precision and recall, every model (colour: class; shape: model)",
                      xaxis_title="recall", yaxis_title="precision", height=480)
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


def probability_bars(proba: dict[str, np.ndarray], labels) -> go.Figure:
    fig = go.Figure()
    for name, p in proba.items():
        fig.add_bar(name=title(name), x=display_names(labels), y=list(p), marker_color=colour(name),
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
    fig.update_layout(barmode="group", title="Shortcut probe: macro-F1 with the words of the class names deleted",
                      yaxis_title="macro-F1 on the test posts", yaxis_range=[0, 1], height=380)
    return fig


def share_bars(results: list[dict], labels) -> go.Figure:
    """Where each model sends an external file's posts: the share predicted as each of its ``labels``."""

    fig = go.Figure()
    for r in results:
        fig.add_bar(name=title(r["model"]), x=display_names(labels), y=[r["prediction_share"][lab] for lab in labels],
                    marker_color=colour(r["model"]),
                    hovertemplate="%{x}: %{y:.1%}<extra>" + title(r["model"]) + "</extra>")
    fig.update_layout(barmode="group", title="Predicted classes on this file", yaxis_title="share of its posts",
                      yaxis_tickformat=".0%", height=360)
    return fig


def cascade_plot(curve: pd.DataFrame, members_alone: list[dict]) -> go.Figure:
    """A cascade's cost against its accuracy: test macro-F1 as more posts go to the second member,
    its operating point, and each member alone."""
    name = curve["model"].iloc[0]
    hover = "routed %{x:.1%}<br>macro-F1 %{y:.3f}<br>%{customdata:,.0f} posts/s (estimated)<extra></extra>"
    fig = go.Figure(go.Scatter(x=curve["share routed"], y=curve["macro-F1"], mode="lines+markers",
                               name=title(name), line={"color": colour(name)}, marker={"size": 5},
                               customdata=curve["posts/s (estimated)"].fillna(0), hovertemplate=hover))
    op = curve[curve["operating point"]]
    fig.add_trace(go.Scatter(x=op["share routed"], y=op["macro-F1"], mode="markers", name="operating point",
                             marker={"color": colour(name), "size": 14, "symbol": "diamond"}))
    for m in members_alone:
        fig.add_hline(y=m["macro_f1"], line_dash="dot", line_color=colour(m["name"]),
                      annotation_text=f"{title(m['name'])} alone", annotation_position="bottom right")
    fig.update_layout(title=f"{title(name)}: share of test posts sent to the second member, and macro-F1",
                      xaxis_title="share of test posts routed", yaxis_title="macro-F1 on the test posts",
                      xaxis_range=[-0.02, 1.02], xaxis_tickformat=".0%", height=420)
    return fig
