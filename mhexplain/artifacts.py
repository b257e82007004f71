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
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .errors import ArtifactError
from .labels import LABELS
from .models import MODEL_NAMES  # noqa: F401 (model folders are named after these)
from .schema import MANIFEST_SPEC, check, check_metrics
from .settings import default_models_dir  # noqa: F401 (the CLIs' default folder, re-exported)

MANIFEST = "manifest.json"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
SKOPS_FILE = "model.skops"
FORMAT_VERSION = 1
BERT_WEIGHTS = "model.safetensors"
BERT_CONFIG_FILE = "mhx_bert.json"  # inference settings: max length, stride, long-text mode
BERT_FILES = (BERT_WEIGHTS, "config.json", BERT_CONFIG_FILE)
# Files every folder of a kind must list in its manifest: an empty or partial list would
# otherwise switch the integrity check off for what it leaves out.
CALIBRATION = "calibration.json"  # mhexplain.calibration.CALIBRATION_FILE
REQUIRED_FILES = {"sklearn": (SKOPS_FILE, CALIBRATION, METRICS, PREDICTIONS),
                  "bert": BERT_FILES + (CALIBRATION, METRICS, PREDICTIONS)}

TRACKED_PACKAGES = ("mhexplain", "numpy", "pandas", "scikit-learn", "nltk", "skops", "torch",
                    "transformers", "accelerate", "safetensors", "tokenizers")

# Types a saved classical pipeline may contain; anything else in a .skops file is refused.
SKOPS_ALLOWED = {
    "mhexplain.preprocess.NltkPreprocessor",
    "sklearn.pipeline.Pipeline",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.naive_bayes.MultinomialNB",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.preprocessing._label.LabelBinarizer",
    "builtins.slice",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csr.csr_array",
    "sklearn.utils._tags.Tags",
}


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in TRACKED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            if pkg == "mhexplain":
                from . import __version__

                out[pkg] = __version__
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def predictions_frame(post_ids, texts, y_true, proba: np.ndarray, labels=LABELS, raw: np.ndarray | None = None,
                      has_train_copy=None) -> pd.DataFrame:
    """The test posts with the (calibrated) probabilities the app shows as ``p_*`` and, when
    given, the model's raw ones as ``raw_p_*`` and whether each post has a verbatim copy in training."""
    proba = np.asarray(proba)
    df = pd.DataFrame({"post_id": np.asarray(post_ids), "text": list(texts),
                       "true_label": np.asarray(y_true), "pred_label": proba.argmax(axis=1)})
    if has_train_copy is not None:
        df["has_train_copy"] = np.asarray(has_train_copy, dtype=bool)
    for i, lab in enumerate(labels):
        df[proba_column(lab)] = proba[:, i]
    if raw is not None:
        for i, lab in enumerate(labels):
            df["raw_" + proba_column(lab)] = np.asarray(raw)[:, i]
    return df


def write_artifact(out_dir: Path, name: str, write_model: Callable[[Path], None], manifest: dict,
                   metrics: dict, predictions: pd.DataFrame) -> Path:
    """Write ``out_dir/name`` completely or not at all (a temp folder renamed into place)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out_dir))
    try:
        write_model(tmp)
        (tmp / METRICS).write_text(json.dumps(metrics, indent=2))
        predictions.to_csv(tmp / PREDICTIONS, index=False)
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


def read_manifest(model_dir: Path) -> dict:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ArtifactError(f"No model folder at {model_dir}; train one with: python -m train --data PATH")
    mpath = model_dir / MANIFEST
    if not mpath.is_file():
        raise ArtifactError(f"{model_dir} has no {MANIFEST}; it is not a complete mhexplain model folder.")
    try:
        manifest = json.loads(mpath.read_text())
    except (ValueError, UnicodeDecodeError):
        raise ArtifactError(f"{mpath} is corrupt (not valid JSON).") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ArtifactError(f"{mpath} lacks the file list; retrain this model.")
    check(manifest, MANIFEST_SPEC, str(mpath))
    kind = manifest["kind"]
    if kind not in REQUIRED_FILES:
        raise ArtifactError(f"{mpath} names an unknown model kind; retrain this model.")
    if manifest["labels"] != list(LABELS):
        raise ArtifactError(f"{mpath} lists {len(manifest['labels'])} labels, not this app's "
                            f"{len(LABELS)} classes; retrain this model.")
    unlisted = [f for f in REQUIRED_FILES[kind] if f not in manifest["files"]]
    if unlisted:
        raise ArtifactError(f"{mpath} does not list {', '.join(unlisted)}; retrain this model.")
    if not all(isinstance(d, str) for d in manifest["files"].values()):
        raise ArtifactError(f"{mpath} has a file hash that is not text; retrain this model.")
    return manifest


def verify_artifact(model_dir: Path, only: tuple[str, ...] | None = None) -> dict:
    """Check the files listed in the manifest (or just those in ``only``) exist and have their
    recorded hash."""
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
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


def _skops_io():
    """Import skops.io without its walk over every scikit-learn module.

    When imported, skops lists every scikit-learn estimator as trusted by importing all of
    scikit-learn (over a second here; with torch installed, torch too). mhexplain never relies on
    that default list: it trusts only SKOPS_ALLOWED, checked before every load. So skops is
    imported with an empty estimator list, which makes its own defaults stricter, not looser.
    """
    if "skops.io" not in sys.modules:
        import sklearn.utils

        real = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []
        try:
            import skops.io  # noqa: F401
        finally:
            sklearn.utils.all_estimators = real
    return sys.modules["skops.io"]


def save_skops(pipeline, path: Path) -> None:
    _skops_io().dump(pipeline, path)


def load_skops(path: Path):
    sio = _skops_io()

    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as err:  # skops raises zip/JSON errors of several kinds for a damaged file
        raise ArtifactError(f"{path} is not a readable skops file ({type(err).__name__}).") from None
    refused = untrusted - SKOPS_ALLOWED
    if refused:
        raise ArtifactError(f"{path} contains types mhexplain does not load: {', '.join(sorted(refused))}.")
    try:
        return sio.load(path, trusted=sorted(untrusted))
    except Exception as err:
        raise ArtifactError(f"{path} could not be loaded ({type(err).__name__}: {err}).") from None


def read_metrics(model_dir: Path) -> dict:
    path = Path(model_dir) / METRICS
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ArtifactError(f"{path} is missing or corrupt.") from None
    check_metrics(metrics, list(LABELS), str(path))
    return metrics


def proba_column(label: str) -> str:
    return f"p_{label.replace(' ', '_')}"


def read_predictions(model_dir: Path) -> pd.DataFrame:
    path = Path(model_dir) / PREDICTIONS
    try:
        df = pd.read_csv(path, keep_default_na=False, dtype={"text": str})
    except (OSError, ValueError, pd.errors.ParserError):
        raise ArtifactError(f"{path} is missing or corrupt.") from None
    needed = ["post_id", "text", "true_label", "pred_label"] + [proba_column(lab) for lab in LABELS]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ArtifactError(f"{path} lacks the column(s) {', '.join(missing)}; retrain this model.")
    numeric = needed[:1] + needed[2:]
    if not all(pd.api.types.is_numeric_dtype(df[c]) for c in numeric):
        raise ArtifactError(f"{path} has a non-numeric id, label or probability; retrain this model.")
    return df
