"""Plotly figures for the app, with one colour per model on every page."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .labels import DISPLAY_NAMES
from .models import colour, title  # noqa: F401 (the pages read both from here)


def confusion_heatmap(cm: np.ndarray, name: str, normalised: bool) -> go.Figure:
    text = [[f"{v:.2f}" if normalised else f"{int(v)}" for v in row] for row in cm]
    fig = go.Figure(go.Heatmap(z=cm, x=list(DISPLAY_NAMES), y=list(DISPLAY_NAMES), text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False,
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    fig.update_layout(title=f"{title(name)}: confusion matrix" + (" (row-normalised)" if normalised else ""),
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
    fig = px.bar(df, x="class", y="misclassified", color="model", barmode="group",
                 color_discrete_map={m: colour(m) for m in df["model"].unique()})
    fig.update_layout(title="Misclassified test posts per true class", xaxis_title="true class",
                      yaxis_title="misclassified posts", height=420)
    return fig


def probability_bars(proba: dict[str, np.ndarray]) -> go.Figure:
    fig = go.Figure()
    for name, p in proba.items():
        fig.add_bar(name=title(name), x=list(DISPLAY_NAMES), y=list(p), marker_color=colour(name),
                    hovertemplate="%{x}: %{y:.3f}<extra>" + title(name) + "</extra>")
    fig.update_layout(barmode="group", title="Class probabilities per model", xaxis_title="class",
                      yaxis_title="probability", yaxis_range=[0, 1], height=360)
    return fig
