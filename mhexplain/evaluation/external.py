"""External validation: how the trained models do on any labelled CSV the project has never seen.

    python -m mhexplain.evaluate --models-dir DIR --data FILE --text-col COL [--title-col COL]
        --label-col COL --label-map "their_label=our_class,..." [--json OUT] [--chunk-size N]

Rows whose label is not in the map are dropped and counted. For each model: n, the recall of
every mapped class with a Wilson 95% interval, macro-F1 over the classes present, the share of
predictions sent to each of our five classes (where drift shows), and the calibrated ECE. The
file is read in chunks, so its size is not bounded by memory; the text is the title and text
joined exactly as in training.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from mhexplain.artifacts.registry import load_models
from mhexplain.core.errors import DataError, MhxError
from mhexplain.core.labels import DISPLAY_NAMES, LABELS, NUM_LABELS
from mhexplain.core.outputs import check_output_file, write_atomic
from mhexplain.core.progress import Progress
from mhexplain.core.textsafe import printable
from mhexplain.datasets.csvfile import CsvColumns, named_columns
from mhexplain.evaluation.metrics import classification_metrics
from mhexplain.preprocess import clear_memo, parallel
from mhexplain.scoring.inputs import NO_TEXT, TRUNCATED, model_inputs
from mhexplain.scoring.table import predict
from mhexplain.scoring.upload import ScoredUpload
from mhexplain.settings import default_models_dir
from mhexplain.trust.calibration import ece

DEFAULT_CHUNK = 2000
# The options that name the columns read, in the order their names are passed around.
COLUMN_OPTIONS = ("--text-col", "--title-col", "--label-col")


def parse_label_map(spec: str) -> dict[str, int]:
    """'their=our,...' (our: a class name or id 0-4) -> {their label: our class id}."""
    names = {n.lower(): i for i, n in enumerate(LABELS)} | {n.lower(): i for i, n in enumerate(DISPLAY_NAMES)}
    names |= {str(i): i for i in range(NUM_LABELS)}
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
            raise DataError(f"--label-map maps {theirs!r} to {ours!r}, which is none of our classes "
                            f"({', '.join(LABELS)}, or 0-{NUM_LABELS - 1}).")
        out[theirs] = names[ours.lower()]
    if not out:
        raise DataError("--label-map is empty: map at least one of the file's labels to one of our classes.")
    return out


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    """Wilson score 95% interval for k successes in n trials."""
    if n == 0:
        return [math.nan, math.nan]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def prepare_rows(titles, texts, labels, label_map: dict[str, int]) -> tuple[list[str], np.ndarray, dict]:
    """Model inputs (``scoring.inputs``, as for every way posts come in) and our class ids for the
    rows whose label is mapped and whose text is not empty; how many were dropped or truncated."""
    texts = list(texts)
    inputs, notes = model_inputs(titles, texts)
    classes = [label_map.get(str(label).strip()) for label in labels]
    counts = {"unmapped": sum(c is None for c in classes),
              "empty": sum(c is not None and n == NO_TEXT for c, n in zip(classes, notes)),
              "truncated": sum(c is not None and n == TRUNCATED for c, n in zip(classes, notes))}
    keep = [k for k, c in enumerate(classes) if c is not None and inputs[k]]
    return [inputs[k] for k in keep], np.asarray([classes[k] for k in keep], dtype=int), counts


def summarise(name: str, y: np.ndarray, proba: np.ndarray) -> dict:
    pred = proba.argmax(1)
    present = sorted(set(y.tolist()))
    recall = {}
    for k in present:
        n, hit = int((y == k).sum()), int(((y == k) & (pred == k)).sum())
        recall[LABELS[k]] = {"n": n, "recall": hit / n, "ci": wilson(hit, n)}
    # macro-F1 over the classes the file has: a class it lacks has no recall to average in
    f1_present = float(f1_score(y, pred, labels=present, average="macro", zero_division=0))
    share = np.bincount(pred, minlength=NUM_LABELS) / max(len(pred), 1)
    return {"model": name, "n": int(len(y)), "recall": recall, "macro_f1_present_classes": f1_present,
            "classes_present": [LABELS[k] for k in present],
            "prediction_share": {LABELS[k]: float(share[k]) for k in range(NUM_LABELS)},
            "ece": ece(proba, y) if len(y) else math.nan, "accuracy": float((pred == y).mean()) if len(y) else math.nan}


def upload_metrics(upload: ScoredUpload) -> dict[str, dict]:
    """Metrics per model for an uploaded file that carries a target, over its rows with text. Each
    model's classes are its own; macro averages are over the classes the file's target holds
    (``averaged_over``), never over classes absent from the file."""
    if upload.target is None:
        return {}
    scored, present = upload.scored, sorted(set(upload.target.tolist()))
    return {n: classification_metrics(upload.target, p[scored.has_text], list(scored.labels[n]), n_resamples=200,
                                      average_over=present) for n, p in scored.proba.items()}


def evaluate_rows(models: dict, inputs: list[str], y: np.ndarray) -> list[dict]:
    return [summarise(n, y, predict(m, inputs)) for n, m in models.items()]


def evaluate_file(models: dict, path: Path, text_col: str, label_col: str, label_map: dict[str, int],
                  title_col: str | None = None, chunk_size: int = DEFAULT_CHUNK, progress=None) -> dict:
    """Stream ``path`` in chunks through every model; returns counts and one summary per model."""
    ys, probas, counts, rows = [], {n: [] for n in models}, {"unmapped": 0, "empty": 0, "truncated": 0}, 0
    with CsvColumns(path, named_columns(COLUMN_OPTIONS, (text_col, title_col, label_col))) as table:
        for chunk in table.chunks(chunk_size):
            rows += len(chunk)
            titles = chunk[title_col] if title_col else [""] * len(chunk)
            inputs, y, c = prepare_rows(titles, chunk[text_col], chunk[label_col], label_map)
            counts = {k: counts[k] + c[k] for k in counts}
            if len(y):
                ys.append(y)
                for n, m in models.items():
                    probas[n].append(predict(m, inputs).astype(np.float32))
            clear_memo()  # the models shared this chunk's preprocessing; keeps memory flat as the file grows
            if progress:
                progress(len(chunk))
    y = np.concatenate(ys) if ys else np.zeros(0, dtype=int)
    if len(set(y.tolist())) < 2:
        raise DataError(f"{path} has {len(set(y.tolist()))} mapped class(es) after dropping unmapped labels; "
                        "external validation needs at least two.")
    return {"rows": rows, "dropped_unmapped": counts["unmapped"], "dropped_empty": counts["empty"],
            "truncated": counts["truncated"],
            "models": [summarise(n, y, np.vstack(probas[n]).astype(float)) for n in models]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mhexplain.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default=str(default_models_dir()))
    p.add_argument("--data", required=True)
    p.add_argument("--text-col", required=True)
    p.add_argument("--title-col")
    p.add_argument("--label-col", required=True)
    p.add_argument("--label-map", required=True, help='e.g. "Anxiety=anxiety,Depression=depression,BPD=3"')
    p.add_argument("--models", help="comma-separated subset of the folder's models")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK)
    p.add_argument("--json", help="write the results here")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        label_map = parse_label_map(a.label_map)
        data = Path(a.data)
        # the header, before any work
        CsvColumns(data, named_columns(COLUMN_OPTIONS, (a.text_col, a.title_col, a.label_col))).close()
        if a.json:
            check_output_file(Path(a.json), "--json", inputs=(data,))
        models = load_models(Path(a.models_dir), a.models.split(",") if a.models else None)
        with parallel(), Progress("evaluating", "row") as bar:
            res = evaluate_file(models, data, a.text_col, a.label_col, label_map, a.title_col,
                                max(1, a.chunk_size), bar.update)
        res["seconds"] = time.perf_counter() - t0
        if a.json:
            write_atomic(Path(a.json), json.dumps(res, indent=2))
    except MhxError as err:
        print(f"error: {printable(err)}", file=sys.stderr)
        return 2
    print(f"{res['rows']:,} rows; dropped {res['dropped_unmapped']:,} with unmapped labels and "
          f"{res['dropped_empty']:,} without text; {res['truncated']:,} {TRUNCATED} ({res['seconds']:.1f} s)")
    for m in res["models"]:
        rec = ", ".join(f"{k} {v['recall']:.2f} [{v['ci'][0]:.2f}-{v['ci'][1]:.2f}] (n={v['n']})"
                        for k, v in m["recall"].items())
        top = max(m["prediction_share"], key=m["prediction_share"].get)
        print(f"{m['model']}: macro-F1 {m['macro_f1_present_classes']:.3f} over {len(m['recall'])} classes; "
              f"ECE {m['ece']:.3f}; recall {rec}; most predicted: {top} ({m['prediction_share'][top]:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
