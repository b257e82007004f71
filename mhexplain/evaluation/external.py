"""External validation: how the trained models do on any labelled CSV the project has never seen
(the command line: ``mhexplain.cli.evaluate``).

Rows whose label is not in the map are dropped and counted. For each model: n, the recall of
every mapped class with a Wilson 95% interval, macro-F1 over the classes present, the share of
predictions sent to each of the models' classes (where drift shows), and the calibrated ECE. The
models compared must share one label set: the one the file's labels are mapped onto. The
file is read in chunks, so its size is not bounded by memory; the text is the title and text
joined exactly as in training.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from mhexplain.core.errors import DataError
from mhexplain.core.labels import common_labels, display_name, numbered
from mhexplain.datasets.csvfile import CsvColumns, named_columns
from mhexplain.datasets.dataset import whole_number
from mhexplain.evaluation.agreement import agreement_report
from mhexplain.evaluation.metrics import classification_metrics
from mhexplain.preprocess import clear_memo
from mhexplain.scoring.files import DEFAULT_CHUNK
from mhexplain.scoring.inputs import NO_TEXT, TRUNCATED, model_inputs
from mhexplain.scoring.table import predict
from mhexplain.scoring.upload import ScoredUpload
from mhexplain.trust.calibration import ece, ece_floor
from mhexplain.trust.shift import Reference, Sample

# The options that name the columns read, in the order their names are passed around.
COLUMN_OPTIONS = ("--text-col", "--title-col", "--label-col")


def parse_label_map(spec: str, labels) -> dict[str, int]:
    """'their=our,...' (our: one of the models' ``labels``, in any case, or its number 0..K-1)
    -> {their label: our class id}."""
    n_labels = len(labels)
    names = {n.lower(): i for i, n in enumerate(labels)} | {display_name(n).lower(): i for i, n in enumerate(labels)}
    if not numbered(labels):  # where the classes are numbers, a number is a class's name, never its place
        names |= {str(i): i for i in range(n_labels)}
    out = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise DataError(f"--label-map entry {part.strip()!r} is not their_label=our_class.")
        theirs, ours = (x.strip() for x in part.rsplit("=", 1))
        if theirs in out:
            raise DataError(f"--label-map maps {theirs!r} twice; give each of the file's labels once.")
        if ours.lower() not in names:
            shown = ", ".join(labels[:8]) + (", …" if n_labels > 8 else "")
            raise DataError(f"--label-map maps {theirs!r} to {ours!r}, which is none of the models' classes "
                            f"({shown}, or 0-{n_labels - 1}).")
        out[theirs] = names[ours.lower()]
    if not out:
        raise DataError("--label-map is empty: map at least one of the file's labels to one of the models' classes.")
    return out


def own_labels_map(labels) -> dict[str, int]:
    """The label map of a file labelled as the models were trained: each class's name or number."""
    names = {name: k for k, name in enumerate(labels)}
    if numbered(labels):  # a number is a class's name, not its place
        return names
    return {str(k): k for k in range(len(labels))} | names


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    """Wilson score 95% interval for k successes in n trials."""
    if n == 0:
        return [math.nan, math.nan]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def mapped(labels, label_map: dict[str, int]) -> list[int | None]:
    """Each label as our class id (None: not in the map); a whole number written "1.0" is "1", as
    training reads it."""
    out = []
    for label in labels:
        text = str(label).strip()
        if text not in label_map and (number := whole_number(text)) is not None:
            text = str(number)
        out.append(label_map.get(text))
    return out


def prepare_rows(titles, texts, labels, label_map: dict[str, int],
                 coders: dict | None = None) -> tuple[list[str], np.ndarray, dict]:
    """Model inputs (``scoring.inputs``, as for every way posts come in) and our class ids for the
    rows whose label is mapped and whose text is not empty; how many were dropped or truncated.
    ``coders`` ({name: column}): each coder's labels, mapped alike (-1 where unmapped), on the kept
    rows, are added to the counts as ``coders``."""
    inputs, notes = model_inputs(titles, texts)
    classes = mapped(labels, label_map)
    counts = {"unmapped": sum(c is None for c in classes),
              "empty": sum(c is not None and n == NO_TEXT for c, n in zip(classes, notes)),
              "truncated": sum(c is not None and n == TRUNCATED for c, n in zip(classes, notes))}
    keep = [k for k, c in enumerate(classes) if c is not None and inputs[k]]
    if coders:
        counts["coders"] = {name: np.asarray([-1 if c is None else c for c in mapped(col, label_map)],
                                             dtype=int)[keep] for name, col in coders.items()}
    return [inputs[k] for k in keep], np.asarray([classes[k] for k in keep], dtype=int), counts


ONE_CLASS = ("macro-F1 is left out: the file holds one of the models' classes, and a mean over one class "
             "is its F1, not a macro average (recall and the predicted-class shares say how the models did)")


def parse_where(items: tuple[str, ...]) -> list[tuple[str, str]]:
    """``--where COL=VALUE`` items as (column, value); a row is kept when every column holds its value."""
    out = []
    for item in items:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise DataError(f"--where {item!r} is not COLUMN=VALUE.")
        out.append((column.strip(), value.strip()))
    return out


def _kept_by(chunk, where: list[tuple[str, str]]):
    """The rows of ``chunk`` that every ``--where`` condition keeps (cells compared stripped)."""
    keep = np.ones(len(chunk), dtype=bool)
    for column, value in where:
        keep &= (chunk[column].str.strip() == value).to_numpy()
    return chunk[keep]


def summarise(name: str, y: np.ndarray, proba: np.ndarray, labels) -> dict:
    pred = proba.argmax(1)
    present = sorted(set(y.tolist()))
    recall = {}
    for k in present:
        n, hit = int((y == k).sum()), int(((y == k) & (pred == k)).sum())
        recall[labels[k]] = {"n": n, "recall": hit / n, "ci": wilson(hit, n)}
    # macro-F1 over the classes the file has: a class it lacks has no recall to average in; a file
    # of one class (all posts from one forum, say) has no macro average to speak of
    f1_present = float(f1_score(y, pred, labels=present, average="macro", zero_division=0)) if len(present) > 1 \
        else None
    share = np.bincount(pred, minlength=len(labels)) / max(len(pred), 1)
    left_out = {} if f1_present is not None else {"left_out": ONE_CLASS}
    return {"model": name, "n": int(len(y)), "recall": recall, "macro_f1_present_classes": f1_present, **left_out,
            "classes_present": [labels[k] for k in present],
            "prediction_share": {lab: float(share[k]) for k, lab in enumerate(labels)},
            "ece": ece(proba, y) if len(y) else math.nan,
            # the ECE a perfectly calibrated model with these confidences would score on as many posts
            "ece_floor": ece_floor(proba)["mean"] if len(y) else math.nan, "accuracy": float((pred == y).mean()) if len(y) else math.nan}


def upload_metrics(upload: ScoredUpload) -> dict[str, dict]:
    """Metrics per model for an uploaded file that carries a target, over its rows with text and a
    class id (``ScoredUpload.labelled``). Each model's classes are its own; macro averages are over
    the classes the file's target holds (``averaged_over``), never over classes absent from the file."""
    keep = upload.labelled
    if not keep.any():
        return {}
    y = upload.target[keep]
    present = sorted(set(y.tolist()))
    return {n: classification_metrics(y, p[keep], list(upload.scored.labels[n]), n_resamples=200,
                                      average_over=present) for n, p in upload.scored.proba.items()}


def models_labels(models: dict) -> tuple[str, ...]:
    """The one label set of the models being compared (one line refusing several)."""
    return common_labels({n: m.labels for n, m in models.items()}, "evaluate together")


def evaluate_rows(models: dict, inputs: list[str], y: np.ndarray, collect: dict | None = None) -> list[dict]:
    """``evaluate_file``'s summaries for rows already read (an upload); ``collect`` as there."""
    labels = models_labels(models)
    proba = {n: predict(m, inputs) for n, m in models.items()}
    if collect is not None:
        collect.update(y=y, proba=proba)
    return [summarise(n, y, p, labels) for n, p in proba.items()]


def evaluate_file(models: dict, path: Path, text_col: str, label_col: str, label_map: dict[str, int],
                  title_col: str | None = None, chunk_size: int = DEFAULT_CHUNK, progress=None,
                  coder_cols: tuple[str, ...] = (), where: list[tuple[str, str]] = (),
                  reference: Reference | None = None, collect: dict | None = None) -> dict:
    """Stream ``path`` in chunks through every model; returns counts and one summary per model,
    and with ``coder_cols`` the agreement between those coders and each model (``agreement``).
    ``where``: (column, value) conditions a row must meet to be read at all (``--where``).
    ``reference``: the models' in-domain posts; the file's posts are tested against them (``shift``).
    ``collect``: given a dict, it receives the kept rows' class ids (``y``) and each model's
    probabilities (``proba``), for recalibration."""
    labels = models_labels(models)
    ys, probas, counts, rows = [], {n: [] for n in models}, {"unmapped": 0, "empty": 0, "truncated": 0}, 0
    coded: dict[str, list] = {c: [] for c in coder_cols}
    columns = named_columns(COLUMN_OPTIONS, (text_col, title_col, label_col)) | {f"--coder-cols {c}": c
                                                                                  for c in coder_cols}
    columns |= {f"--where {c}": c for c, _ in where}
    filtered, similarity, sample = 0, [], Sample()
    with CsvColumns(path, columns) as table:
        for chunk in table.chunks(chunk_size):
            rows += len(chunk)
            if progress:
                progress(len(chunk))
            kept = _kept_by(chunk, list(where))
            filtered, chunk = filtered + len(chunk) - len(kept), kept
            titles = chunk[title_col] if title_col else None
            inputs, y, c = prepare_rows(titles, chunk[text_col], chunk[label_col], label_map,
                                        {name: chunk[name] for name in coder_cols})
            for name, ids in c.pop("coders", {}).items():
                coded[name].append(ids)
            counts = {k: counts[k] + c[k] for k in counts}
            if len(y):
                ys.append(y)
                for n, m in models.items():
                    probas[n].append(predict(m, inputs).astype(np.float32))
                if reference is not None:
                    similarity.append(reference.similarity(inputs))
                    sample.add(inputs, probas[reference.model][-1].argmax(1))
            clear_memo()  # the models shared this chunk's preprocessing; keeps memory flat as the file grows
    y = np.concatenate(ys) if ys else np.zeros(0, dtype=int)
    if not len(y):
        if where and filtered == rows:
            raise DataError(f"{path}: none of its {rows:,} rows passes every --where condition "
                            f"({', '.join(f'{c}={v}' for c, v in where)}); check the column names and values.")
        kept = f"{rows - filtered:,} of its {rows:,} rows pass --where; " if where else ""
        raise DataError(f"{path} has none of the models' classes among its labels ({kept}{counts['unmapped']:,} "
                        "row(s) dropped whose label is not mapped). Map the file's labels onto the models' classes "
                        "with --label-map.")
    proba = {n: np.vstack(p).astype(float) for n, p in probas.items()}
    if collect is not None:
        collect.update(y=y, proba=proba)
    return {"rows": rows, "filtered_out": filtered, "dropped_unmapped": counts["unmapped"],
            "dropped_empty": counts["empty"], "truncated": counts["truncated"],
            "models": [summarise(n, y, proba[n], labels) for n in models],
            **_agreement(coded, {n: p.argmax(1) for n, p in proba.items()}, labels),
            **({"shift": reference.test(sample, np.concatenate(similarity))} if reference is not None else {})}


def _agreement(coded: dict[str, list], predictions: dict[str, np.ndarray], labels) -> dict:
    if not coded:
        return {}
    codes = {c: np.concatenate(v) for c, v in coded.items()}
    try:
        report = agreement_report(codes, predictions, labels)
    except ValueError as err:
        raise DataError(f"Coder agreement cannot be measured on this file: {err}") from None
    if not report["alpha"]["n"]:
        raise DataError("Coder agreement cannot be measured: no post kept was coded by two of the --coder-cols "
                        "(a coder's label the --label-map leaves out counts as uncoded).")
    return {"coder_agreement": report}
