"""Recalibrating models on a labelled sample of a new source (``evaluate --recalibrate`` and the
Batch page's validation tab): the fit and its cross-validated evidence (``trust.recalibration``),
a table of it, and the variant folders (``artifacts.variant``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mhexplain.artifacts.registry import build_command, read_combination
from mhexplain.artifacts.variant import write_variants
from mhexplain.classifiers.catalog import combines
from mhexplain.core.classifier import abstention_threshold
from mhexplain.core.errors import ConfigError, DataError
from mhexplain.core.outputs import inside
from mhexplain.trust.calibration import DEFAULT_DELTA, DEFAULT_TARGET_ACCURACY
from mhexplain.trust.recalibration import recalibrate


def fit_variants(models: dict, y: np.ndarray, proba: dict[str, np.ndarray]) -> dict[str, dict]:
    """Each model's recalibration on the sample (``y``, its probabilities as shown now), keeping its
    own target accuracy and delta; one line when the sample is too small."""
    out = {}
    for name, clf in models.items():
        cal = getattr(clf, "calibration", None)  # ``trust.calibration.Calibrated``: every loaded model
        temperature = cal.temperature if cal is not None else 1.0
        target = cal.target_accuracy if cal is not None else DEFAULT_TARGET_ACCURACY
        delta = (cal.delta if cal is not None else None) or DEFAULT_DELTA
        threshold = abstention_threshold(clf)
        try:
            out[name] = recalibrate(proba[name], y, temperature, 0.0 if threshold is None else threshold, target,
                                    delta)
        except ValueError as err:
            raise DataError(f"Cannot recalibrate on this file: {err}.") from None
    return out


def check_variant_folder(out: Path, models_dir: Path) -> None:
    """Refuse, before any work (and before anything is tried in it), a variants folder that is a
    link, holds anything (a variant never replaces a model), or is or lies inside the models folder
    (whose model folders it would shadow)."""
    out = Path(out)
    if out.is_symlink():
        raise ConfigError(f"--recalibrate {out} is a link; name a new folder.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--recalibrate {out} already exists and is not an empty folder; name a new folder "
                          "(a variant never replaces a model).")
    if inside(out, models_dir):
        raise ConfigError(f"--recalibrate {out} is inside the models folder {models_dir}; name a folder beside it "
                          "(e.g. models-recalibrated).")


def check_recalibratable(infos, out: Path) -> None:
    """A cascade or an ensemble is recalibrated through its members: its variant would be built
    from members that are not in the variants folder. One line saying how, before any work."""
    made = [i for i in infos if combines(i.name) and i.ok]  # an unusable one is refused on load
    if made:
        members = {i.name: [m["name"] for m in read_combination(i.path, i.manifest)["members"]] for i in made}
        others = sorted({m for names in members.values() for m in names} - set(members))
        raise ConfigError(f"{', '.join(members)} {'is' if len(made) == 1 else 'are'} made of other models: recalibrate "
                          f"the members (--models {','.join(others)}), then build from their variants with: "
                          + "; ".join(build_command(out, n, m) for n, m in members.items()))


def save_variants(out: Path, infos, fitted: dict[str, dict], sample: dict) -> list[Path]:
    paths = {i.name: i.path for i in infos}
    return write_variants(out, {name: (paths[name], f) for name, f in fitted.items()}, sample)


def before_after_table(fitted: dict[str, dict]) -> pd.DataFrame:
    """Per model, the sample as the model sees it now and after recalibration (cross-validated)."""
    rows = []
    for name, f in fitted.items():
        cv = f["cross_validation"]
        for when in ("before", "after"):
            m = cv[when]
            rows.append({"model": name, "calibration": "as trained" if when == "before" else "recalibrated",
                         "ECE": m["ece"], "ECE floor": m["ece_floor"], "mean confidence": m["mean_confidence"],
                         "accuracy": m["accuracy"], "answered": m["coverage"],
                         "accuracy when answering": m["answered_accuracy"]})
    return pd.DataFrame(rows)


def recalibration_sentence(name: str, f: dict) -> str:
    """What recalibration did for one model, in one line, with the cross-validation that measured it."""
    cv = f["cross_validation"]
    b, a = cv["before"], cv["after"]

    def answered(m: dict) -> str:
        if m["answered_accuracy"] is None:
            return "no post answered"
        return f"{m['answered_accuracy']:.2f} on {m['coverage']:.0%} answered"

    line = (f"{name}: ECE {b['ece']:.3f} -> {a['ece']:.3f} (a perfectly calibrated model would score about "
            f"{a['ece_floor']:.3f} here); accuracy when answering {answered(b)} -> {answered(a)} (target "
            f"{f['target_accuracy']:.2f}); temperature x{f['temperature_factor']:.2f}; {cv['folds']}-fold "
            f"cross-validation on {cv['posts']:,} posts")
    if f["coverage"] == 0:
        line += (f". On this source no threshold keeps accuracy at {f['target_accuracy']:.2f} with "
                 f"{1 - f['delta']:.0%} confidence: the variant abstains on every post, and its confidences are "
                 "the ones to read")
    if not f.get("helps", True):
        line += ". Cross-validation finds the recalibrated model no better calibrated here: keep the original"
    for warning in f.get("warnings", []):
        line += f". Warning: {warning}"
    return line
