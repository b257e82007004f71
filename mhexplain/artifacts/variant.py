"""Calibration variants: a model folder with a temperature and threshold fitted on another source.

A variant is a complete model folder of its own, in a models folder of its own, so that every
command and page reads it as it reads any model (``MHX_MODELS_DIR=models:models-forum`` lets
visitors choose between the two). Its model files are the original's (hard-linked where the file
system allows, else copied; the hashes prove them the same), its ``calibration.json`` is the new
one, and its test-set figures are recomputed under the new calibration from the raw probabilities
``predictions.csv`` keeps: the predictions do not change, the confidences do. The manifest's
``calibration_variant`` records which model and manifest it came from, the sample it was fitted
on (file, SHA-256, posts, label map, row filter), the original calibration and the
cross-validated before/after. The original folder is only read.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mhexplain.artifacts.folder import (
    MANIFEST,
    METRICS,
    PREDICTIONS,
    move_into_place,
    now_iso,
    proba_column,
    read_predictions,
    verify_artifact,
    write_artifact,
)
from mhexplain.artifacts.registry import read_calibration
from mhexplain.core.hashing import sha256_file
from mhexplain.trust.calibration import (
    CALIBRATION_FILE,
    Calibration,
    abstention_report,
    calibration_metrics,
    scale,
)

VARIANT_KEY = "calibration_variant"


def _proba_columns(labels) -> list[str]:
    return [proba_column(lab) for lab in labels]


def _raw(preds, labels, temperature: float) -> np.ndarray:
    """The model's own probabilities on its test posts: kept beside the calibrated ones, or (in a
    folder that lacks them) the calibrated ones unscaled, which temperature scaling allows."""
    raw_cols = ["raw_" + c for c in _proba_columns(labels)]
    if all(c in preds.columns for c in raw_cols):
        return preds[raw_cols].to_numpy(dtype=float)
    return scale(preds[_proba_columns(labels)].to_numpy(dtype=float), 1.0 / temperature)


def variant_calibration(fitted: dict, sample: dict) -> Calibration:
    """``trust.recalibration.recalibrate``'s result as the calibration a folder saves."""
    return Calibration(fitted["temperature"], fitted["threshold"], fitted["target_accuracy"],
                       f"{sample['posts']:,} labelled posts of {sample['file']} (another source)", sample["posts"],
                       delta=fitted["delta"], coverage=fitted["coverage"],
                       accuracy_lower_bound=fitted["accuracy_lower_bound"])


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)


def stage_variant(model_dir: Path, staging: Path, fitted: dict, sample: dict) -> Path:
    """Write the variant of ``model_dir`` into ``staging`` (a folder ``write_variants`` moves into place)."""
    model_dir = Path(model_dir)
    manifest = verify_artifact(model_dir)
    original = read_calibration(model_dir)
    cal = variant_calibration(fitted, sample)
    labels = manifest["labels"]
    preds = read_predictions(model_dir).copy()
    raw = _raw(preds, labels, original.temperature)
    proba = scale(raw, cal.temperature)
    preds[_proba_columns(labels)] = proba
    y = preds["true_label"].to_numpy(dtype=int)
    metrics = json.loads((model_dir / METRICS).read_text())
    seed = int(manifest["split"]["seed"])
    metrics.update(calibration_metrics(raw, proba, y, seed), abstention=abstention_report(cal, proba, y))
    keep = set(manifest["files"]) - {MANIFEST, METRICS, PREDICTIONS, CALIBRATION_FILE}
    new_manifest = {k: v for k, v in manifest.items() if k not in ("files", "format_version", "name")}
    new_manifest.update(created=now_iso(), calibration=asdict(cal))
    new_manifest["metrics"] = {**manifest.get("metrics", {}), "ece": metrics["ece"]}
    new_manifest[VARIANT_KEY] = {"of": manifest["name"], "original_manifest_sha256": sha256_file(model_dir / MANIFEST),
                                 "original_calibration": asdict(original), "sample": sample,
                                 "temperature_factor": fitted["temperature_factor"],
                                 "cross_validation": fitted["cross_validation"],
                                 "helps": fitted.get("helps"), "warnings": fitted.get("warnings", [])}

    def write_model(d: Path) -> None:
        for name in sorted(keep):
            _link_or_copy(model_dir / name, d / name)
        cal.save(d)

    return write_artifact(staging, manifest["name"], write_model, new_manifest, metrics, preds)


def write_variants(out: Path, variants: dict[str, tuple[Path, dict]], sample: dict) -> list[Path]:
    """Every model's variant ({name: (its folder, ``recalibrate``'s result)}) into the models folder
    ``out``, all or none: staged beside, moved in only when every one is written."""
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        for model_dir, fitted in variants.values():
            stage_variant(model_dir, staging, fitted, sample)
        for name in variants:
            move_into_place(staging / name, out / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in variants]
