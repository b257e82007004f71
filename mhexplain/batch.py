"""Scoring an uploaded CSV with the trained models."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .classifier import Classifier
from .data import clean_text, join_post, read_posts_bytes
from .errors import DataError
from .labels import DISPLAY_NAMES
from .metrics import classification_metrics

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ROWS = 2000


def parse_upload(raw: bytes, name: str = "the upload") -> pd.DataFrame:
    """Validated frame with ``input`` (model text) and, if given, ``target``."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise DataError(f"{name} is {len(raw) / 2**20:.1f} MiB; the limit is {MAX_UPLOAD_BYTES // 2**20} MiB.")
    df = read_posts_bytes(raw, name, require_target=False)
    if len(df) > MAX_ROWS:
        raise DataError(f"{name} has {len(df):,} rows; the limit is {MAX_ROWS:,} per upload.")
    df["input"] = [join_post(clean_text(t), clean_text(b)).strip() for t, b in zip(df["title"], df["text"])]
    empty = df["input"] == ""
    if empty.all():
        raise DataError(f"{name} has no text in any row.")
    return df[~empty].reset_index(drop=True)


def score(df: pd.DataFrame, models: dict[str, Classifier], progress: Callable[[float], None] | None = None,
          chunk: int = 64) -> pd.DataFrame:
    out = pd.DataFrame({"text": df["input"]})
    if "target" in df.columns:
        out["true class"] = [DISPLAY_NAMES[i] for i in df["target"]]
    total = len(models) * len(df)
    done = 0
    for name, clf in models.items():
        parts = []
        for i in range(0, len(df), chunk):
            parts.append(clf.predict_proba(df["input"].iloc[i:i + chunk].tolist()))
            done += min(chunk, len(df) - i)
            if progress:
                progress(done / total)
        p = np.vstack(parts)
        out[f"{name} prediction"] = [DISPLAY_NAMES[i] for i in p.argmax(1)]
        out[f"{name} confidence"] = p.max(1).round(4)
        for k, lab in enumerate(clf.labels):
            out[f"{name} p({lab})"] = p[:, k].round(4)
    return out


def file_metrics(df: pd.DataFrame, scored: pd.DataFrame, names: Sequence[str]) -> dict[str, dict]:
    """Metrics per model for an uploaded file that carries ``target``."""
    if "target" not in df.columns:
        return {}
    y = df["target"].to_numpy()
    res = {}
    for n in names:
        cols = [c for c in scored.columns if c.startswith(f"{n} p(")]
        res[n] = classification_metrics(y, scored[cols].to_numpy(), n_resamples=200)
    return res
