"""An uploaded CSV scored with the trained models (the Batch page), through ``table.score_rows``:
its download is the file ``python -m mhexplain.score`` writes for the same file and models."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mhexplain.core.classifier import Classifier
from mhexplain.core.errors import DataError
from mhexplain.datasets.csvfile import column_indexes, read_table_upload
from mhexplain.datasets.dataset import class_ids
from mhexplain.scoring.inputs import TEXT_COLUMN, TITLE_COLUMN
from mhexplain.scoring.table import Scored, score_rows
from mhexplain.settings import MAX_UPLOAD_MB
from mhexplain.trust.shift import Reference

MAX_ROWS = 2000
UPLOAD_LIMITS = f"at most {MAX_UPLOAD_MB} MB and {MAX_ROWS:,} rows"
TARGET_COLUMN = "target"


def check_upload(name: str) -> None:
    """Refuse, in one line, a file the app does not read: one not named .csv. (Its size is
    checked by the reader, ``csvfile.read_table_upload``, before parsing.)

    The app checks this itself rather than through the uploader's ``type``: Streamlit enforces
    that before a page runs, where its error cannot become the page's one line.
    """
    if not name.lower().endswith(".csv"):
        raise DataError(f"{name} is not a CSV file: upload a file whose name ends in .csv.")


@dataclass
class ScoredUpload:
    scored: Scored
    # the class id the file's label column gives each row (a class name or number of the models'
    # one label set), -1 where it gives none or none of those; None when the file has no label
    # column, or the models have different label sets
    target: np.ndarray | None = None
    labels: tuple[str, ...] | None = None  # the models' one label set (None: they have several)
    has_label_column: bool = False  # the file has the label column (filled in or not)

    @property
    def labelled(self) -> np.ndarray:
        """The rows a metric can count: with text and a class id."""
        if self.target is None:
            return np.zeros(len(self.scored.rows), dtype=bool)
        return self.scored.has_text & (self.target >= 0)

    def unlabelled_rows(self) -> list[int]:
        """Rows with text whose target is blank or not a class id (left out of the metrics)."""
        if self.target is None:
            return []
        return [r for r, t, ok in zip(self.scored.rows, self.scored.has_text, self.labelled) if t and not ok]


def score_upload(raw: bytes, name: str, models: dict[str, Classifier],
                 progress: Callable[[float], None] | None = None, label_col: str = TARGET_COLUMN,
                 text_col: str = TEXT_COLUMN, title_col: str = TITLE_COLUMN,
                 reference: Reference | None = None) -> ScoredUpload:
    """Score an uploaded CSV with a ``text_col`` column (and optional ``title_col`` and
    ``label_col``: the columns the models were trained on) as ``python -m mhexplain.score`` scores
    a file; ``progress`` is told the share of the work done; with ``reference`` (``shift.shift_reference``)
    each post is compared with the models' in-domain posts, as ``score`` does."""
    check_upload(name)
    table = read_table_upload(raw, name, MAX_ROWS)
    column_indexes(list(table.columns), {"the posts": text_col}, name)  # one line naming its columns
    titles = table[title_col] if title_col in table.columns else None
    scored = score_rows(models, table.index, titles, table[text_col],
                        progress=_shares(progress, len(table) * len(models)), reference=reference)
    if progress is not None:
        progress(1.0)  # rows without text took no work
    sets = {tuple(m.labels) for m in models.values()}
    labels = next(iter(sets)) if len(sets) == 1 else None
    target = None
    if labels and label_col in table.columns and (table[label_col].str.strip() != "").any():
        target = class_ids(table[label_col], labels)
    return ScoredUpload(scored, target, labels, label_col in table.columns)


def _shares(progress: Callable[[float], None] | None, total: int) -> Callable[[int], None] | None:
    """Posts done, as the share of ``total`` that ``progress`` is told."""
    if progress is None:
        return None
    done = 0

    def update(n: int) -> None:
        nonlocal done
        done += n
        progress(min(1.0, done / max(total, 1)))
    return update


def notes_text(scored: Scored, most: int = 10) -> str:
    """'row 7 (no text), row 70 (truncated ...)' for the first ``most`` noted rows, then a count."""
    noted = [(r, n) for r, n in zip(scored.rows, scored.notes) if n]
    parts = [f"row {r} ({n})" for r, n in noted[:most]]
    if len(noted) > most:
        parts.append(f"and {len(noted) - most:,} more")
    return ", ".join(parts) + "." if parts else ""
