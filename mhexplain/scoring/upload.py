"""Scoring an uploaded CSV with the trained models."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from mhexplain.core.classifier import MAX_POST_CHARS, Classifier
from mhexplain.core.errors import DataError
from mhexplain.core.labels import LABELS
from mhexplain.core.textsafe import spreadsheet_safe
from mhexplain.datasets.posts import clean_text, join_post, read_upload
from mhexplain.evaluation.metrics import classification_metrics
from mhexplain.settings import MAX_UPLOAD_MB

MAX_ROWS = 2000
UPLOAD_LIMITS = f"at most {MAX_UPLOAD_MB} MB and {MAX_ROWS:,} rows"


@dataclass
class Upload:
    """The usable rows of an uploaded CSV and the rows left out, with the reason for each.

    ``frame`` has ``row`` (the row number as a spreadsheet shows it: the header is row 1),
    ``input`` (the model text) and, if the file has it, ``target``.
    """

    frame: pd.DataFrame
    skipped: list[tuple[int, str]] = field(default_factory=list)


def check_upload(name: str) -> None:
    """Refuse, in one line, a file the app does not read: one not named .csv. (Its size is
    checked by the reader, ``data.read_upload`` or ``data.read_table_upload``, before parsing.)

    The app checks this itself rather than through the uploader's ``type``: Streamlit enforces
    that before a page runs, where its error cannot become the page's one line.
    """
    if not name.lower().endswith(".csv"):
        raise DataError(f"{name} is not a CSV file: upload a file whose name ends in .csv.")


def parse_upload(raw: bytes, name: str = "upload.csv") -> Upload:
    check_upload(name)
    df = read_upload(raw, name, require_target=False)
    if len(df) > MAX_ROWS:
        raise DataError(f"{name} has {len(df):,} rows; the limit is {MAX_ROWS:,} per upload.")
    df["input"] = [join_post(clean_text(t), clean_text(b)).strip() for t, b in zip(df["title"], df["text"])]
    lengths = df["input"].str.len()
    reasons = pd.Series("", index=df.index)
    reasons[lengths == 0] = "no text"
    reasons[lengths > MAX_POST_CHARS] = f"longer than {MAX_POST_CHARS:,} characters"
    skipped = [(int(r), why) for r, why in zip(df["row"], reasons) if why]
    if len(skipped) == len(df):
        raise DataError(f"{name} has no usable row: " + skipped_text(skipped))
    return Upload(df[reasons == ""].reset_index(drop=True), skipped)


def skipped_text(skipped: list[tuple[int, str]], most: int = 10) -> str:
    """'row 7 (no text), row 70 (longer than ...)' for the first ``most`` rows, then a count."""
    parts = [f"row {r} ({why})" for r, why in skipped[:most]]
    if len(skipped) > most:
        parts.append(f"and {len(skipped) - most:,} more")
    return ", ".join(parts) + "."


def shown_classes(labels) -> list[str]:
    """Class labels as the tables show them, capitalised: 'personality disorder' -> 'Personality
    disorder' (labels.DISPLAY_NAMES for this app's classes; any model's own labels alike)."""
    return [label[:1].upper() + label[1:] for label in labels]


def score(df: pd.DataFrame, models: dict[str, Classifier], progress: Callable[[float], None] | None = None,
          chunk: int = 64) -> pd.DataFrame:
    out = df[[c for c in ("row",) if c in df]].copy()
    out["text"] = df["input"]
    if "target" in df.columns:  # the file's target holds this app's class ids
        names = shown_classes(LABELS)
        out["true class"] = [names[i] for i in df["target"]]
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
        shown = shown_classes(clf.labels)  # the model's own classes, in its order
        out[f"{name} prediction"] = [shown[i] for i in p.argmax(1)]
        out[f"{name} confidence"] = p.max(1).round(4)
        for k, lab in enumerate(clf.labels):
            out[f"{name} p({lab})"] = p[:, k].round(4)
    return out


def predictions_csv(scored: pd.DataFrame) -> str:
    """The scored table as CSV text that a spreadsheet opens without running any cell as a formula."""
    return spreadsheet_safe(scored).to_csv(index=False)


def file_metrics(df: pd.DataFrame, scored: pd.DataFrame, names: Sequence[str]) -> dict[str, dict]:
    """Metrics per model for an uploaded file that carries ``target``. Each model's classes are
    the ones it scored (its ``p(...)`` columns); macro averages are over the classes the file's
    target holds (``averaged_over``), never over classes absent from the file."""
    if "target" not in df.columns:
        return {}
    y = df["target"].to_numpy()
    present = sorted(set(y.tolist()))
    res = {}
    for n in names:
        prefix = f"{n} p("
        cols = [c for c in scored.columns if c.startswith(prefix) and c.endswith(")")]
        labels = [c[len(prefix):-1] for c in cols]
        res[n] = classification_metrics(y, scored[cols].to_numpy(), labels, n_resamples=200, average_over=present)
    return res
