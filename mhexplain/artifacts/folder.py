"""Model folders: writing them atomically with a manifest, and checking them on load.

Every ``DIR/<name>/`` holds the model files, ``metrics.json``, ``predictions.csv`` and
``manifest.json``. The manifest lists each file's SHA-256, so a truncated or modified file is
caught before it is parsed; scikit-learn models are read with skops against an allowlist of
types, never unpickled.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from mhexplain import __version__
from mhexplain.artifacts.schema import COUNT, MANIFEST_SPEC, check, check_metrics
from mhexplain.classifiers.catalog import KINDS
from mhexplain.core.errors import ArtifactError, ConfigError, DataError
from mhexplain.core.hashing import sha256_file
from mhexplain.core.labels import check_label_set
from mhexplain.trust.shortcuts import MASKING_FILE

MANIFEST = "manifest.json"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
# Held-out predictions on training-split posts (out-of-fold, or BERT's validation slice): what a
# cascade's routing threshold and an ensemble's weights are chosen on, so that the test posts
# never choose them. Optional: a folder trained before it existed has none.
VALIDATION = "validation.csv"
FORMAT_VERSION = 1
# Files every folder of a kind must list in its manifest: an empty or partial list would
# otherwise switch the integrity check off for what it leaves out.
CALIBRATION = "calibration.json"  # mhexplain.trust.calibration.CALIBRATION_FILE
REQUIRED_FILES = {name: kind.model_files + (CALIBRATION, METRICS, PREDICTIONS) for name, kind in KINDS.items()}
# Every name a model folder of ours may hold whatever its manifest says: a folder whose manifest
# cannot be read (an older or damaged model) is still recognised by its files (check_replaceable).
MODEL_FOLDER_FILES = frozenset({MANIFEST, MASKING_FILE, VALIDATION}.union(*REQUIRED_FILES.values()))
# A manifest lists a dozen files in a few kilobytes; a larger one is not read to decide.
MAX_MANIFEST_BYTES = 1_000_000

TRACKED_PACKAGES = ("mhexplain", "numpy", "pandas", "scikit-learn", "nltk", "skops", "torch",
                    "transformers", "accelerate", "safetensors", "tokenizers")


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in TRACKED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            if pkg == "mhexplain":
                out[pkg] = __version__
    return out


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def predictions_frame(post_ids, texts, y_true, proba: np.ndarray, labels, raw: np.ndarray | None = None,
                      has_train_copy=None) -> pd.DataFrame:
    """The test posts with the (calibrated) probabilities the app shows as ``p_*`` and, when
    given, the model's raw ones as ``raw_p_*`` and whether each post has a verbatim copy in training."""
    proba = np.asarray(proba)
    df = pd.DataFrame({"post_id": np.asarray(post_ids), "text": list(texts),
                       "true_label": np.asarray(y_true), "pred_label": proba.argmax(axis=1)})
    if has_train_copy is not None:
        df["has_train_copy"] = np.asarray(has_train_copy, dtype=bool)
    # built at once: a column at a time fragments the frame (pandas warns at a hundred classes)
    columns = {proba_column(lab): proba[:, i] for i, lab in enumerate(labels)}
    if raw is not None:
        columns |= {"raw_" + proba_column(lab): np.asarray(raw)[:, i] for i, lab in enumerate(labels)}
    return pd.concat([df, pd.DataFrame(columns, index=df.index)], axis=1)


def validation_frame(post_ids, y_true, raw: np.ndarray, labels) -> pd.DataFrame:
    """``validation.csv``: held-out training-split posts (their ids, no text) with the model's raw
    probabilities, to which its calibration applies as to the test posts' ``raw_p_*``."""
    raw = np.asarray(raw)
    columns = {"post_id": np.asarray(post_ids), "true_label": np.asarray(y_true)}
    columns |= {"raw_" + proba_column(lab): raw[:, i] for i, lab in enumerate(labels)}
    return pd.DataFrame(columns)


def write_artifact(out_dir: Path, name: str, write_model: Callable[[Path], None], manifest: dict,
                   metrics: dict, predictions: pd.DataFrame, validation: pd.DataFrame | None = None) -> Path:
    """Write ``out_dir/name`` completely or not at all (a temp folder renamed into place)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out_dir))
    try:
        write_model(tmp)
        (tmp / METRICS).write_text(json.dumps(metrics, indent=2))
        predictions.to_csv(tmp / PREDICTIONS, index=False)
        if validation is not None:
            validation.to_csv(tmp / VALIDATION, index=False)
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {**manifest, "format_version": FORMAT_VERSION, "name": name, "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        move_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def move_into_place(folder: Path, final: Path) -> None:
    """Rename a complete model folder to ``final`` (same file system), replacing what was there."""
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        final.rename(old)
    folder.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_replaceable(folder: Path) -> None:
    """Refuse, naming ``folder``, to replace anything that is not a model folder of ours.

    A run deletes what sits at ``--out/<model>``. It may when that is nothing, an empty folder,
    or a folder holding a ``manifest.json`` and, besides it, only plain files that are either
    listed in that manifest (when it reads as JSON) or named as model folders name theirs
    (``MODEL_FOLDER_FILES``), or dotfiles (file managers' leftovers, which loading ignores too). So a
    damaged model folder of ours is replaced, and a folder of someone's own files never is.
    """
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a model folder, so training will not replace it; move it away, "
                          "or choose another --out.")
    entries = list(folder.iterdir())
    if not entries:
        return
    ours = MODEL_FOLDER_FILES | _listed_files(folder / MANIFEST)
    foreign = sorted(p.name for p in entries
                     if p.is_symlink() or not p.is_file() or (p.name not in ours and not p.name.startswith(".")))
    if foreign:
        why = f"it holds {', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}"
    elif not (folder / MANIFEST).is_file():
        why = f"it has no {MANIFEST}"
    else:
        return
    raise ConfigError(f"{folder} is not a model folder ({why}), so training will not replace it; move it away, "
                      "or choose another --out.")


def _listed_files(manifest: Path) -> set[str]:
    """The file names a manifest lists; none when it cannot be read (a damaged model folder)."""
    try:
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            return set()
        content = _load_json(manifest, "is corrupt.")
    except (OSError, ArtifactError):
        return set()
    files = content.get("files") if isinstance(content, dict) else None
    return {f for f in files if isinstance(f, str)} if isinstance(files, dict) else set()


def read_manifest(model_dir: Path) -> dict:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ArtifactError(f"No model folder at {model_dir}; train one with: python -m train --data PATH")
    mpath = model_dir / MANIFEST
    if not mpath.is_file():
        raise ArtifactError(f"{model_dir} has no {MANIFEST}; it is not a complete mhexplain model folder.")
    manifest = _load_json(mpath, "is corrupt (not valid JSON).")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ArtifactError(f"{mpath} lacks the file list; retrain this model.")
    check(manifest, MANIFEST_SPEC, str(mpath))
    kind = manifest["kind"]
    if kind not in REQUIRED_FILES:
        raise ArtifactError(f"{mpath} names an unknown model kind; retrain this model.")
    try:
        check_label_set(manifest["labels"], f"{mpath}: labels")
    except DataError as err:
        raise ArtifactError(f"{err} Retrain this model.") from None
    counts = manifest["data"].get("class_counts")
    if counts is not None:
        check(counts, {side: {lab: COUNT for lab in manifest["labels"]} for side in ("train", "test")},
              f"{mpath} (data.class_counts)")
    per_class = manifest["cleaning"].get("posts_per_class")
    if per_class is not None and len(per_class) != len(manifest["labels"]):
        raise ArtifactError(f"{mpath}: cleaning.posts_per_class does not count its {len(manifest['labels'])} "
                            "labels; retrain this model.")
    unlisted = [f for f in REQUIRED_FILES[kind] if f not in manifest["files"]]
    if unlisted:
        raise ArtifactError(f"{mpath} does not list {', '.join(unlisted)}; retrain this model.")
    if not all(isinstance(d, str) for d in manifest["files"].values()):
        raise ArtifactError(f"{mpath} has a file hash that is not text; retrain this model.")
    return manifest


def _load_json(path: Path, corrupt: str):
    """A JSON file's content; a missing, unreadable or malformed file is refused in one line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
        raise ArtifactError(f"{path} {corrupt}") from None


def unlisted_files(model_dir: Path, manifest: dict) -> list[str]:
    """Files in the folder that its manifest does not list. Loaders read files by name (a
    transformers folder reads whatever tokenizer files it finds), so a file added after training
    could change predictions without any hash noticing. Dotfiles are left out: no loader reads
    one, and file managers leave them behind."""
    return sorted(p.name for p in Path(model_dir).iterdir()
                  if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")
                  and p.name not in manifest["files"])


def verify_artifact(model_dir: Path, only: tuple[str, ...] | None = None) -> dict:
    """Check the files listed in the manifest (or just those in ``only``) exist and have their
    recorded hash; for a whole folder (no ``only``), also that it holds no file the manifest does
    not list, since a model is loaded from its folder."""
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    extra = unlisted_files(model_dir, manifest) if only is None else []
    if extra:
        raise ArtifactError(f"{model_dir} holds {', '.join(extra)}, which its {MANIFEST} does not list (added after "
                            "training); remove it or retrain this model.")
    for fname, digest in manifest["files"].items():
        if only is not None and fname not in only:
            continue
        p = model_dir / fname
        if Path(fname).name != fname:
            raise ArtifactError(f"{model_dir / MANIFEST} names a file outside its folder: {fname!r}.")
        if not p.is_file():
            raise ArtifactError(f"{model_dir} is missing {fname}; retrain this model.")
        if sha256_file(p) != digest:
            raise ArtifactError(f"{p} does not match its manifest (truncated or modified); retrain this model.")
    return manifest


def artifact_hash(model_dir: Path) -> str:
    """One digest for a whole model folder, used as a cache key."""
    manifest = read_manifest(model_dir)
    blob = json.dumps(sorted(manifest["files"].items())).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def read_json(model_dir: Path, name: str, spec) -> dict:
    """``model_dir/name`` parsed and checked against ``spec`` (mhexplain.artifacts.schema): one line naming
    the file and the field when it does not fit."""
    path = Path(model_dir) / name
    content = _load_json(path, "is missing or corrupt.")
    check(content, spec, str(path))
    return content


def read_metrics(model_dir: Path) -> dict:
    path = Path(model_dir) / METRICS
    metrics = _load_json(path, "is missing or corrupt.")
    check_metrics(metrics, read_manifest(model_dir)["labels"], str(path))
    return metrics


def proba_column(label: str) -> str:
    return f"p_{label.replace(' ', '_')}"


LABEL_COLUMNS = ("true_label", "pred_label")
WHOLE_COLUMNS = ("post_id",) + LABEL_COLUMNS  # the pages index with these: whole numbers, no decimals


def read_predictions(model_dir: Path) -> pd.DataFrame:
    """The test posts' predictions, every column a page reads checked: one line naming the file,
    the column and the first bad row (numbered as a spreadsheet does, the header is row 1)."""
    path = Path(model_dir) / PREDICTIONS
    try:
        # ids and labels as written, so that a check can name the row of a "1.0" among "1"s
        df = pd.read_csv(path, keep_default_na=False, dtype={c: str for c in ("text",) + WHOLE_COLUMNS})
    except (OSError, ValueError, pd.errors.ParserError):
        raise ArtifactError(f"{path} is missing or corrupt.") from None
    labels = read_manifest(model_dir)["labels"]
    needed = ["post_id", "text", "true_label", "pred_label"] + [proba_column(lab) for lab in labels]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ArtifactError(f"{path} lacks the column(s) {', '.join(missing)}; retrain this model.")
    found = _predictions_problem(df, labels)
    if found:
        raise ArtifactError(f"{path} is not a valid mhexplain file: {found}; retrain this model.")
    return df.astype({c: int for c in WHOLE_COLUMNS})


def read_validation(model_dir: Path, manifest: dict) -> pd.DataFrame | None:
    """The folder's held-out training-split predictions (``validation.csv``), checked like the test
    posts' (ids, labels, a raw probability per class in the manifest's order); None when the folder
    has none (trained before they were kept). The caller verified the folder's hashes."""
    if VALIDATION not in manifest["files"]:
        return None
    path = Path(model_dir) / VALIDATION
    try:
        df = pd.read_csv(path, keep_default_na=False, dtype={c: str for c in ("post_id", "true_label")})
    except (OSError, ValueError, pd.errors.ParserError):
        raise ArtifactError(f"{path} is missing or corrupt.") from None
    raw = ["raw_" + proba_column(lab) for lab in manifest["labels"]]
    found = "it has no rows" if df.empty else None
    if list(df.columns) != ["post_id", "true_label"] + raw:
        found = "its columns are not post_id, true_label and a raw probability per class of the manifest"
    checks = [("post_id", 0, None), ("true_label", 0, len(raw) - 1)] + [(c, 0.0, 1.0) for c in raw]
    for col, low, high in checks if found is None else []:
        found = found or _column_problem(df[col], col, low, high)
    if found is None and pd.to_numeric(df["post_id"]).duplicated().any():
        found = "column post_id repeats an id"
    if found:
        raise ArtifactError(f"{path} is not a valid mhexplain file: {found}; retrain this model.")
    return df.astype({"post_id": int, "true_label": int})


def _predictions_problem(df: pd.DataFrame, labels: list[str]) -> str | None:
    if df.empty:
        return "it has no rows"
    known = {proba_column(lab) for lab in labels}
    unknown = [c for c in df.columns if c.startswith("p_") and c not in known]
    if unknown:  # the pages take every p_ column as a class probability
        return f"column {unknown[0]} is not a probability of the model's classes"
    if [c for c in df.columns if c.startswith("p_")] != [proba_column(lab) for lab in labels]:
        return "its probability columns are not in the order of the manifest's labels"
    checks = [("post_id", 0, None)] + [(c, 0, len(labels) - 1) for c in LABEL_COLUMNS]
    checks += [(c, 0.0, 1.0) for c in df.columns if c in known or (c.startswith("raw_") and c[4:] in known)]
    for col, low, high in checks:
        found = _column_problem(df[col], col, low, high)
        if found:
            return found
    repeated = pd.to_numeric(df["post_id"]).duplicated().to_numpy()
    if repeated.any():
        return f"column post_id repeats an id in row {int(repeated.argmax()) + 2}"
    if "has_train_copy" in df.columns and not pd.api.types.is_bool_dtype(df["has_train_copy"]):
        return "column has_train_copy should hold True or False only"
    return None


def _column_problem(col: pd.Series, name: str, low, high) -> str | None:
    """The first cell of ``col`` that is not a number in [low, high] (a whole one, written without
    decimals, where ``low`` is an int), in words."""
    whole = isinstance(low, int)
    slack = 0 if whole else 1e-9  # a probability may round one ulp past 1
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(values) & (values >= low - slack) & (values <= (np.inf if high is None else high + slack))
    if whole:
        ok &= values == np.floor(values)
    what = "a whole number" if whole else "a number"
    if not ok.all():
        i = int((~ok).argmax())
        limits = f"at least {low}" if high is None else f"between {low} and {high}"
        return f"column {name} row {i + 2} should be {what} {limits}, not {str(col.iloc[i])[:40]!r}"
    if whole:
        # 1.0 is whole but no integer: the pages index the class names with these labels
        decimals = ~col.astype(str).str.strip().str.fullmatch(r"[+-]?\d+").to_numpy(dtype=bool)
        if decimals.any():
            i = int(decimals.argmax())
            return f"column {name} row {i + 2} should be {what} written without decimals, not {str(col.iloc[i])!r}"
    return None
