"""Steps every model's training shares: reading the data, the split, the manifest."""
from __future__ import annotations

import dataclasses
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from mhexplain.artifacts.folder import library_versions, now_iso, predictions_frame, validation_frame, write_artifact
from mhexplain.classifiers.catalog import kinds_of, resolve
from mhexplain.classifiers.skops_files import SKOPS_FILE, save_skops
from mhexplain.core.errors import DataError
from mhexplain.core.hashing import sha256_file
from mhexplain.datasets.dataset import CODER_PREFIX, Dataset, check_preset_fits, read_dataset, with_test_file
from mhexplain.datasets.split import Split, make_split, stratified_sample
from mhexplain.evaluation.agreement import agreement_report
from mhexplain.training.config import TrainConfig
from mhexplain.trust.shortcuts import WordMask, save_mask

logger = logging.getLogger("mhexplain.train")


# tqdm's "None": bars only on a terminal, so logs written to a file hold no carriage returns or escapes.
TQDM_DISABLE = None
Progress = Callable[[str], None]  # called with a stage's name as it starts (see planned_stages)


@contextmanager
def stage(name: str, progress: Progress | None = None, key: str | None = None):
    """Log a stage's start and duration; tell ``progress`` its ``key`` (one of planned_stages)."""
    logger.info("%s ...", name)
    if progress is not None and key is not None:
        progress(key)
    t0 = time.perf_counter()
    yield
    logger.info("%s done in %.1f s", name, time.perf_counter() - t0)


def planned_stages(cfg: TrainConfig) -> list[str]:
    """The stages a run goes through, in order: what a progress bar can count without guessing."""
    stages = [stage for kind in kinds_of(cfg.models) for stage in resolve(kind.trainer).stages(cfg)]
    return ["reading"] * cfg.needs_data + stages


@dataclass
class Prepared:
    dataset: Dataset
    data_sha256: str
    split: Split
    test_sha256: str | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.dataset.labels


def read_data(cfg: TrainConfig) -> tuple[Dataset, str, str | None]:
    """The training file (and a separate test file, read with the training file's labels) under
    the configured columns, with their hashes."""
    # coders are compared on test posts only: a reliability subset may be coded in the test file alone
    spec = dataclasses.replace(cfg.dataset, coder_cols=()) if cfg.test_data else cfg.dataset
    dataset = read_dataset(cfg.data, spec)
    check_preset_fits(dataset, str(cfg.data))
    if cfg.test_data is None:
        return dataset, sha256_file(cfg.data), None
    test = read_dataset(cfg.test_data, cfg.dataset, labels=dataset.labels)
    return with_test_file(dataset, test), sha256_file(cfg.data), sha256_file(cfg.test_data)


def prepare(cfg: TrainConfig, seed: int | None = None, dataset: Dataset | None = None,
            data_sha256: str | None = None, test_sha256: str | None = None) -> Prepared:
    if dataset is None:
        dataset, data_sha256, test_sha256 = read_data(cfg)
    if cfg.limit:
        dataset = dataclasses.replace(dataset, frame=stratified_sample(dataset.frame, cfg.limit, cfg.seed))
    split = make_split(dataset.frame, dataset.labels, cfg.protocol, cfg.seed if seed is None else seed)
    _check_coded(split)
    return Prepared(dataset, data_sha256 or "", split, test_sha256)


def _check_coded(split: Split) -> None:
    """Before any training: coders' agreement is measured on the test posts, so some test post
    must carry two coders' codes."""
    coded = split.test[[c for c in split.test.columns if c.startswith(CODER_PREFIX)]].to_numpy()
    if coded.shape[1] and not ((coded >= 0).sum(axis=1) >= 2).any():
        raise DataError("Coder agreement cannot be measured: no test post was coded by two of the --coder-cols.")


def model_mask(cfg: TrainConfig, labels: tuple[str, ...]):
    """The words a ``--mask-words`` run deletes from every post the model sees (None: none);
    'default' is the list for the dataset's labels (``shortcuts.default_words``)."""
    return WordMask.from_spec(cfg.mask_words, labels) if cfg.mask_words else None


def base_manifest(cfg: TrainConfig, prep: Prepared, kind: str, params: dict, train_seconds: float) -> dict:
    mask = model_mask(cfg, prep.labels)
    return {
        "masking": {"words": list(mask.words), "source": cfg.mask_words} if mask else None,
        "kind": kind,
        "labels": list(prep.labels),
        "created": now_iso(),
        "train_seconds": round(train_seconds, 2),
        "data": data_record(cfg, prep),
        "cleaning": prep.split.corpus.report.as_dict(),
        "split": prep.split.describe(),
        "seed": cfg.seed,
        "params": params,
        "versions": library_versions(),
    }


def data_record(cfg: TrainConfig, prep: Prepared) -> dict:
    """What the model was trained on: the file(s), the columns, the label set and its counts."""
    dataset, split = prep.dataset, prep.split
    y = split.corpus.targets

    def counts(idx) -> dict[str, int]:
        n = np.bincount(y[idx], minlength=len(prep.labels))
        return {lab: int(k) for lab, k in zip(prep.labels, n)}

    return {"file": cfg.data.name, "sha256": prep.data_sha256, "rows": int(len(dataset.frame)), "limit": cfg.limit,
            "test_file": cfg.test_data.name if cfg.test_data else None, "test_sha256": prep.test_sha256,
            "columns": dataset.spec.describe(), "label_order": dataset.label_source,
            "class_counts": {"train": counts(split.train_idx), "test": counts(split.test_idx)}}


def coder_agreement(prep: Prepared, name: str, proba: np.ndarray) -> dict:
    """metrics.json's ``coder_agreement`` for a dataset with coders' columns (``--coder-cols``): on
    the test posts, the coders against each other and the model against each and their majority."""
    test = prep.split.test
    coders = {c[len(CODER_PREFIX):]: test[c].to_numpy() for c in test.columns if c.startswith(CODER_PREFIX)}
    if not coders:
        return {}
    try:
        report = agreement_report(coders, {name: np.asarray(proba).argmax(1)}, prep.labels)
    except ValueError as err:
        raise DataError(f"Coder agreement cannot be measured on the test posts: {err}") from None
    return {"coder_agreement": report}


def held_out_frame(prep: Prepared, raw: np.ndarray):
    """``validation.csv`` for held-out raw probabilities of every training-split post (out of fold)."""
    train = prep.split.train
    return validation_frame(train["post_id"], train["target"], raw, prep.labels)


def write_skops_model(cfg: TrainConfig, prep: Prepared, name: str, pipeline, cal, mask, manifest: dict,
                      metrics: dict, proba: np.ndarray, raw: np.ndarray, oof: np.ndarray, note: str = "") -> None:
    """A fitted scikit-learn model's folder (its skops file, calibration, mask, the test posts'
    predictions, the training posts' out-of-fold ``oof`` ones, metrics and manifest), then one log
    line of its scores (``note`` appended)."""
    test = prep.split.test
    manifest = {**manifest, "calibration": asdict(cal),
                "metrics": {k: metrics[k] for k in ("accuracy", "macro_f1", "macro_f1_ci", "cohen_kappa", "ece")}}
    preds = predictions_frame(test["post_id"], test["input"], test["target"], proba, prep.labels, raw=raw,
                              has_train_copy=prep.split.test_has_train_copy)

    def write_model(d):
        save_skops(pipeline, d / SKOPS_FILE)
        cal.save(d)
        if mask is not None:
            save_mask(mask, d)

    write_artifact(cfg.out, name, write_model, manifest, metrics, preds, held_out_frame(prep, oof))
    logger.info("%s: macro-F1 %.3f [%.3f, %.3f], accuracy %.3f; ECE %.3f (uncalibrated %.3f, T=%.2f)%s", name,
                metrics["macro_f1"], *metrics["macro_f1_ci"], metrics["accuracy"], metrics["ece"],
                metrics["ece_uncalibrated"], cal.temperature, note)
