"""Posts scored by several models, and the one predictions table made from them.

The Batch page's table and download, ``python -m mhexplain.score``'s file, the Analyze page and
the external validation all come from ``score_rows``: the same inputs (``inputs.model_inputs``),
the same calibrated probabilities, the same abstention rule (``classifier.abstains``) and one
column layout:

``row`` (the row number as a spreadsheet shows it: the header is row 1), ``id`` (when asked for),
``note`` (``no text`` or ``truncated ...``), when posts are compared with the models' in-domain
posts ``in_domain_similarity`` and ``in_domain_typicality`` (``scoring.shift``), then for each
model ``<m>_pred``, ``<m>_confidence``, ``<m>_uncertain`` (1 where it abstains, 0 where it
answers, empty for a model without a threshold) and ``<m>_p_<class>`` for each of its classes. A
row without text has empty predictions.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mhexplain.core.classifier import Classifier, abstains, abstention_threshold, predict_routed
from mhexplain.core.textsafe import neutralise_formula
from mhexplain.scoring.inputs import model_inputs
from mhexplain.scoring.shift import SIMILARITY_COLUMN, TYPICALITY_COLUMN
from mhexplain.trust.shift import Reference

# Posts per predict_proba call: progress moves within one model's share of a long file.
PREDICTION_BATCH = 256
DECIMALS = 6


def predict(clf: Classifier, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
    """``clf``'s (calibrated) probabilities for ``texts``, (n, len(clf.labels)); ``progress`` is told
    the number of posts after each batch."""
    return predict_answered(clf, texts, progress)[0]


def predict_answered(clf: Classifier, texts: Sequence[str], progress: Callable[[int], None] | None = None
                     ) -> tuple[np.ndarray, list[str] | None]:
    """``predict``, with the member that answered each post for a model made of others (a
    cascade; ``classifier.predict_routed``), else None."""
    routed = predict_routed(clf)
    parts, members = [], [] if routed else None
    for start in range(0, len(texts), PREDICTION_BATCH):
        batch = list(texts[start:start + PREDICTION_BATCH])
        if routed:
            p, who = routed(batch)
            members += who
        else:
            p = clf.predict_proba(batch)
        parts.append(np.asarray(p, dtype=float))
        if progress is not None:
            progress(len(parts[-1]))
    return (np.vstack(parts) if parts else np.zeros((0, len(clf.labels)))), members


def proba_column(model: str, label: str) -> str:
    return f"{model}_p_{label.replace(' ', '_')}"


def answered_column(model: str) -> str:
    """The column naming, for a model made of others, the member that answered each row."""
    return f"{model}_answered_by"


def model_columns(model: str, labels) -> tuple[str, list[str]]:
    """A model's columns: its prediction, then the ones that hold numbers (confidence, abstention,
    a probability per class)."""
    return f"{model}_pred", [f"{model}_confidence", f"{model}_uncertain"] + [proba_column(model, lab) for lab in labels]


@dataclass
class Scored:
    """Rows scored by several models. ``proba[m]`` has a row per input row: NaN where it has no text."""

    rows: list[int]
    notes: list[str]
    inputs: list[str]
    ids: list[str] | None
    proba: dict[str, np.ndarray]
    labels: dict[str, tuple[str, ...]]
    thresholds: dict[str, float | None]
    # each row's nearest similarity to the models' in-domain posts and its typicality there
    # (``trust.shift``; NaN where it has no text); None when posts were not compared
    similarity: np.ndarray | None = None
    typicality: np.ndarray | None = None
    # for a model made of others (a cascade): the member that answered each row ("" without text)
    answered: dict[str, list[str]] | None = None

    @property
    def has_text(self) -> np.ndarray:
        return np.array([bool(t) for t in self.inputs], dtype=bool)

    def predicted(self, model: str) -> np.ndarray:
        """Each row's predicted class index (-1 where the row has no text)."""
        p = self.proba[model]
        return np.where(self.has_text, np.nan_to_num(p, nan=-1.0).argmax(axis=1), -1)

    def uncertain(self, model: str) -> np.ndarray:
        return abstains(np.nan_to_num(self.proba[model], nan=0.0).max(axis=1), self.thresholds[model]) & self.has_text

    def header(self) -> list[str]:
        cols = ["row"] + (["id"] if self.ids is not None else []) + ["note"]
        if self.similarity is not None:
            cols += [SIMILARITY_COLUMN, TYPICALITY_COLUMN]
        for m, labels in self.labels.items():
            pred, numbers = model_columns(m, labels)
            cols += [pred] + ([answered_column(m)] if m in (self.answered or {}) else []) + numbers
        return [neutralise_formula(c) for c in cols]

    def table_rows(self) -> list[list[str]]:
        """The table's rows as the cells written to a CSV file (numbers to six decimals)."""
        out = [[str(r)] + ([neutralise_formula(self.ids[k])] if self.ids is not None else []) + [self.notes[k]]
               for k, r in enumerate(self.rows)]
        if self.similarity is not None:
            for row, sim, typ in zip(out, self.similarity, self.typicality):
                row += ["", ""] if np.isnan(sim) else [f"{sim:.{DECIMALS}f}", f"{typ:.{DECIMALS}f}"]
        for m, labels in self.labels.items():
            pred, unsure, threshold = self.predicted(m), self.uncertain(m), self.thresholds[m]
            answered = (self.answered or {}).get(m)
            for k, row in enumerate(out):
                if pred[k] < 0:
                    row += [""] * (3 + len(labels) + (answered is not None))
                    continue
                p = self.proba[m][k]
                row += [neutralise_formula(labels[pred[k]])] + ([answered[k]] if answered is not None else [])
                row += [f"{p.max():.{DECIMALS}f}",
                        "" if threshold is None else str(int(unsure[k]))] + [f"{x:.{DECIMALS}f}" for x in p]
        return out

    def csv_text(self) -> str:
        """The table as CSV text: what ``python -m mhexplain.score`` writes for the same rows."""
        buf = io.StringIO()
        write_rows(buf, [self.header()] + self.table_rows())
        return buf.getvalue()

    def frame(self, text_chars: int = 0) -> pd.DataFrame:
        """The table for display: the same columns, numbers as numbers; with ``text_chars``, the
        first characters of what the models read, after the note."""
        df = pd.DataFrame(self.table_rows(), columns=self.header())
        numbers = ["row"] + ([SIMILARITY_COLUMN, TYPICALITY_COLUMN] if self.similarity is not None else [])
        numbers += [c for m, labels in self.labels.items() for c in model_columns(m, labels)[1]]
        for col in map(neutralise_formula, numbers):
            df[col] = pd.to_numeric(df[col].replace("", np.nan))
        if text_chars:
            df.insert(df.columns.get_loc("note") + 1, "text", [t[:text_chars] for t in self.inputs])
        return df


def write_rows(f, rows: list[list[str]]) -> None:
    """CSV rows ending in CRLF, as RFC 4180 has them: the writer then quotes every cell that holds
    a CR or an LF (an id may), so each row stays one record whatever its cells hold."""
    csv.writer(f, lineterminator="\r\n").writerows(rows)


def score_rows(models: dict[str, Classifier], rows: Sequence[int], titles: Sequence[str] | None,
               texts: Sequence[str], ids: Sequence[str] | None = None,
               progress: Callable[[int], None] | None = None, reference: Reference | None = None) -> Scored:
    """Score rows of posts with every model in ``models``; ``progress`` is told posts as they are
    done; with ``reference``, each post is also compared with the models' in-domain posts."""
    inputs, notes = model_inputs(titles, texts)
    keep = [k for k, t in enumerate(inputs) if t]
    proba, answered = {}, {}
    for name, clf in models.items():
        p = np.full((len(inputs), len(clf.labels)), np.nan)
        who = None
        if keep:
            p[keep], who = predict_answered(clf, [inputs[k] for k in keep], progress)
        elif predict_routed(clf):
            who = []
        if who is not None:
            answered[name] = [""] * len(inputs)
            for k, member in zip(keep, who):
                answered[name][k] = member
        proba[name] = p
    similarity = typicality = None
    if reference is not None:
        similarity, typicality = np.full(len(inputs), np.nan), np.full(len(inputs), np.nan)
        if keep:
            similarity[keep] = reference.similarity([inputs[k] for k in keep])
            typicality[keep] = reference.typicality(similarity[keep])
    return Scored([int(r) for r in rows], notes, inputs, None if ids is None else [str(i) for i in ids], proba,
                  {n: tuple(c.labels) for n, c in models.items()},
                  {n: abstention_threshold(c) for n, c in models.items()}, similarity, typicality, answered)
