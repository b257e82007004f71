"""The models mhexplain knows, in one place: names, titles and plot colours."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    colour: str
    kind: str  # the artifact kind that holds it: "sklearn" or "bert"


MODELS = {
    "nb": ModelSpec("nb", "Naive Bayes", "#1f77b4", "sklearn"),
    "lr": ModelSpec("lr", "Logistic Regression", "#ff7f0e", "sklearn"),
    "bert": ModelSpec("bert", "BERT", "#2ca02c", "bert"),
}
MODEL_NAMES = tuple(MODELS)
CLASSICAL_MODELS = tuple(n for n, m in MODELS.items() if m.kind == "sklearn")

# Colours for a model folder with another name; picked by a stable hash, so a name keeps its
# colour from one run to the next (Python's own hash() of a string changes per process).
FALLBACK_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def title(name: str) -> str:
    return MODELS[name].title if name in MODELS else name


def colour(name: str) -> str:
    if name in MODELS:
        return MODELS[name].colour
    return FALLBACK_COLOURS[hashlib.sha256(name.encode()).digest()[0] % len(FALLBACK_COLOURS)]
