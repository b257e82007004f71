"""Posts scored against the models' in-domain posts: the reference each file or post is read
against, and a file's verdict beside what the models predict for it.

The reference is every selected model's held-out test posts (``predictions.csv``), so it exists
for any model folder of any kind and any dataset (``trust.shift`` says how posts are compared).
The predicted-class shares of a file are shown next to the training data's class shares: a class
that takes far more of a file than of the training data (the Kaggle models send 13-30% of posts
from other forums to "personality disorder") is where shift shows in the predictions.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from mhexplain.artifacts.folder import read_predictions
from mhexplain.core.errors import DataError
from mhexplain.core.labels import common_labels
from mhexplain.core.textsafe import neutralise_formula
from mhexplain.trust.shift import FILE_METHOD, SHIFT_WARNING, Reference, Sample

SIMILARITY_COLUMN, TYPICALITY_COLUMN = "in_domain_similarity", "in_domain_typicality"
NO_REFERENCE = "the models' test posts hold no word to compare posts with"
# A post stranger than 95% of held-out in-domain posts is flagged (5% of in-domain posts are, too).
STRANGE_POST = 0.05
POST_WARNING = ("the calibrated confidence and the abstention target were measured on posts like the training data "
                "and may not hold for it")


def shift_reference(infos) -> Reference | None:
    """The in-domain posts that posts are compared with: the first selected model's held-out test
    posts, with the class it predicts for each (models trained together share them); None when
    they hold no word (posts of digits or symbols alone)."""
    first = next((i for i in infos if i.ok), None)
    if first is None:
        return None
    preds = read_predictions(first.path)
    try:
        return Reference.from_texts(preds["text"], preds["pred_label"], first.name)
    except ValueError:  # scikit-learn's "empty vocabulary"
        return None


def no_shift_test(reason: str = NO_REFERENCE) -> dict:
    return {"detected": False, "method": FILE_METHOD, "posts": 0, "reason": reason}


def shift_sentence(shift: dict) -> str:
    """The verdict on a file in one sentence, with its evidence; the CLI and the app say the same."""
    if "auc" not in shift:
        return f"Shift not tested: {shift.get('reason', NO_REFERENCE)}."
    evidence = f"a classifier tells its posts from the models' held-out posts with AUC {shift['auc']:.2f}, " \
               f"p = {shift['p_value']:.2g}"
    if "share_below_reference_5th_percentile" in shift:
        evidence += (f"; {shift['share_below_reference_5th_percentile']:.0%} of its posts are stranger than 95% of "
                     "those posts, where 5% would be expected")
    note = f" Note: {shift['note']}." if shift.get("note") else ""
    if shift["detected"]:
        return f"Shift detected ({evidence}): {SHIFT_WARNING}.{note}"
    return f"No shift detected ({evidence}).{note}"


def post_sentence(typicality: float) -> str:
    """One post's typicality in words: how it compares with the models' held-out in-domain posts."""
    stranger = 1 - typicality
    if typicality < STRANGE_POST:
        return (f"This post is less like the training data than {stranger:.0%} of the models' held-out posts "
                f"(in-domain typicality {typicality:.2f}): {POST_WARNING}.")
    return (f"In-domain typicality {typicality:.2f}: the post is as close to the training data as "
            f"{typicality:.0%} of the models' held-out posts are, or closer.")


def training_shares(infos) -> dict[str, float] | None:
    """The training posts' class shares (manifest ``data.class_counts``), when the models share
    one label set and one training set; None otherwise (or for a folder that does not record it)."""
    counts = {tuple(sorted((((i.manifest or {}).get("data") or {}).get("class_counts") or {}).get("train", {})
                           .items())) for i in infos}
    labels = {tuple((i.manifest or {}).get("labels") or ()) for i in infos}
    if len(counts) != 1 or len(labels) != 1:
        return None
    train = dict(counts.pop())
    total = sum(train.values())
    return {lab: train[lab] / total for lab in labels.pop()} if total else None


def prediction_shares(predicted: dict[str, Counter], labels_of: dict[str, tuple[str, ...]]) -> dict[str, dict]:
    """Each model's share of rows with text per class, from the counts of its predicted class names."""
    out = {}
    for model, counts in predicted.items():
        total = sum(counts.values())
        out[model] = {lab: counts.get(lab, 0) / total if total else 0.0 for lab in labels_of[model]}
    return out


def shares_table(report: dict) -> pd.DataFrame | None:
    """Per class: the training data's share beside each model's share of this file's posts."""
    training, predicted = report.get("training_share"), report.get("prediction_share") or {}
    if not predicted:
        return None
    try:
        labels = common_labels({m: tuple(s) for m, s in predicted.items()}, "show together")
    except DataError:  # models of different label sets: their shares cannot share rows
        return None
    table = pd.DataFrame({"class": list(labels)})
    if training:
        table["training data"] = [training.get(lab, np.nan) for lab in labels]
    for model, shares in predicted.items():
        table[f"{model} predicts"] = [shares[lab] for lab in labels]
    return table


def file_report(sample: Sample, similarity: np.ndarray, predicted: dict[str, Counter],
                labels_of: dict[str, tuple[str, ...]], reference: Reference | None,
                training: dict[str, float] | None) -> dict:
    """What ``score --json`` and the Batch page say about a file: the shift verdict on its posts
    (``trust.shift.Reference.test`` on ``sample``, a random sample of them, and every post's
    ``similarity``), each model's predicted-class shares (from ``predicted``, counts of its predicted
    class names) and the training data's."""
    shift = reference.test(sample, similarity) if reference is not None else no_shift_test()
    return {"shift": shift, "prediction_share": prediction_shares(predicted, labels_of),
            "training_share": training, **({"warning": SHIFT_WARNING} if shift["detected"] else {})}


def read_back(out: Path, labels_of: dict[str, tuple[str, ...]], with_similarity: bool,
              chunk_size: int) -> tuple[np.ndarray, dict]:
    """A written predictions file's similarity column (``with_similarity``: the table has one) and
    the counts of each model's predicted class names on the rows with text, read a chunk at a time (every
    process's rows are in the file once it is joined)."""
    pred_cols = {m: neutralise_formula(f"{m}_pred") for m in labels_of}
    # the table writes a class name as a spreadsheet may read it ("-1" as "'-1"): read it back by name
    names = {m: {neutralise_formula(lab): lab for lab in labels} for m, labels in labels_of.items()}
    similarity, predicted = [], {m: Counter() for m in labels_of}
    # a row has text where it has a similarity, or, in a table without them, predictions
    marker = SIMILARITY_COLUMN if with_similarity else next(iter(pred_cols.values()))
    for scored in pd.read_csv(out, usecols=list(dict.fromkeys([marker, *pred_cols.values()])), dtype=str,
                              keep_default_na=False, chunksize=chunk_size):
        has = (scored[marker] != "").to_numpy()
        for m, col in pred_cols.items():
            predicted[m].update(names[m][v] for v in scored.loc[has, col])
        if with_similarity:
            similarity.append(scored.loc[has, SIMILARITY_COLUMN].astype(float).to_numpy())
    return (np.concatenate(similarity) if similarity else np.zeros(0)), predicted


def posts_report(inputs: list[str], proba: dict[str, np.ndarray], labels_of: dict[str, tuple[str, ...]],
                 reference: Reference | None, training: dict[str, float] | None,
                 similarity: np.ndarray | None = None) -> dict:
    """``file_report`` for posts held in memory, all with text (an upload), from each model's
    probabilities for them; ``similarity``: theirs to the reference, when already computed."""
    predicted = {m: Counter(labels_of[m][k] for k in p.argmax(1)) for m, p in proba.items()}
    sample = Sample()
    if reference is not None and reference.model in proba and inputs:
        sample.add(inputs, proba[reference.model].argmax(1))
        if similarity is None:
            similarity = reference.similarity(inputs)
    return file_report(sample, np.zeros(0) if similarity is None else similarity, predicted, labels_of, reference,
                       training)


def scored_report(scored, reference: Reference | None, training: dict[str, float] | None) -> dict:
    """``file_report`` for posts scored in memory (``table.Scored``: an upload on the Batch page)."""
    has = scored.has_text
    return posts_report([t for t in scored.inputs if t], {m: p[has] for m, p in scored.proba.items()},
                        scored.labels, reference, training,
                        None if scored.similarity is None else scored.similarity[has])
