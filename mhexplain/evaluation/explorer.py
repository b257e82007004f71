"""The error explorer's table: every test post with each model's prediction and flags."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mhexplain.core.classifier import abstains
from mhexplain.core.labels import display_names
from mhexplain.evaluation.compare import ModelResults, aligned, shared_labels

FILTERS = ("all posts", "all models wrong", "models disagree", "exactly one model right", "all models right",
           "some model uncertain", "every model answers")


def explorer_table(results: list[ModelResults]) -> pd.DataFrame:
    t = aligned(results)
    if t.empty:
        return t
    names = [r.name for r in results]
    shown = display_names(shared_labels(results))
    preds = np.column_stack([t[f"pred_{n}"].to_numpy() for n in names])
    right = preds == t["true_label"].to_numpy()[:, None]
    out = pd.DataFrame({"post_id": t["post_id"], "true class": [shown[i] for i in t["true_label"]]})
    uncertain = np.zeros(len(t), dtype=bool)
    for k, (n, r) in enumerate(zip(names, results)):
        below = abstains(t[f"conf_{n}"].to_numpy(), r.threshold)
        uncertain |= below
        out[f"{n} prediction"] = [("uncertain: " if b else "") + shown[i] for i, b in zip(preds[:, k], below)]
        out[f"{n} confidence"] = t[f"conf_{n}"].round(3)
        if f"answered_{n}" in t.columns:
            out[f"{n} answered by"] = t[f"answered_{n}"].astype(str)
    out["models right"] = right.sum(axis=1)
    out["all wrong"] = ~right.any(axis=1)
    out["disagree"] = (preds != preds[:, :1]).any(axis=1)
    out["uncertain"] = uncertain
    out["text"] = t["text"]
    out["_true"] = t["true_label"]
    return out


def filter_table(table: pd.DataFrame, flag: str = "all posts", true_class: str | None = None,
                 search: str = "", n_models: int | None = None) -> pd.DataFrame:
    if table.empty:
        return table
    n_models = n_models or sum(c.endswith(" prediction") for c in table.columns)
    mask = np.ones(len(table), dtype=bool)
    if flag == "all models wrong":
        mask &= table["all wrong"].to_numpy()
    elif flag == "models disagree":
        mask &= table["disagree"].to_numpy()
    elif flag == "exactly one model right":
        mask &= (table["models right"] == 1).to_numpy()
    elif flag == "all models right":
        mask &= (table["models right"] == n_models).to_numpy()
    elif flag == "some model uncertain":
        mask &= table["uncertain"].to_numpy()
    elif flag == "every model answers":
        mask &= ~table["uncertain"].to_numpy()
    elif flag != "all posts":
        raise ValueError(f"unknown filter {flag!r}")
    if true_class:
        mask &= (table["true class"] == true_class).to_numpy()
    if search.strip():
        mask &= table["text"].str.contains(search.strip(), case=False, regex=False).to_numpy()
    return table[mask]
