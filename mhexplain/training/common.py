"""Steps every model's training shares: reading the data, the split, the manifest."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from mhexplain.artifacts.folder import library_versions, now_iso
from mhexplain.classifiers.catalog import kinds_of, resolve
from mhexplain.core.hashing import sha256_file
from mhexplain.core.labels import LABELS
from mhexplain.datasets.posts import read_posts
from mhexplain.datasets.split import Split, make_split, stratified_sample
from mhexplain.training.config import TrainConfig
from mhexplain.trust.shortcuts import WordMask

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
    return ["reading"] + [stage for kind in kinds_of(cfg.models) for stage in resolve(kind.trainer).stages(cfg)]


@dataclass
class Prepared:
    frame: pd.DataFrame
    data_sha256: str
    split: Split


def prepare(cfg: TrainConfig, seed: int | None = None, frame: pd.DataFrame | None = None,
            data_sha256: str | None = None) -> Prepared:
    if frame is None:
        frame = read_posts(cfg.data)
        data_sha256 = sha256_file(cfg.data)
    if cfg.limit:
        frame = stratified_sample(frame, cfg.limit, cfg.seed)
    split = make_split(frame, cfg.protocol, cfg.seed if seed is None else seed)
    return Prepared(frame, data_sha256 or "", split)


def model_mask(cfg: TrainConfig):
    """The words a ``--mask-words`` run deletes from every post the model sees (None: none)."""
    return WordMask.from_spec(cfg.mask_words) if cfg.mask_words else None


def base_manifest(cfg: TrainConfig, prep: Prepared, kind: str, params: dict, train_seconds: float) -> dict:
    mask = model_mask(cfg)
    return {
        "masking": {"words": list(mask.words), "source": cfg.mask_words} if mask else None,
        "kind": kind,
        "labels": list(LABELS),
        "created": now_iso(),
        "train_seconds": round(train_seconds, 2),
        "data": {"file": cfg.data.name, "sha256": prep.data_sha256, "rows": int(len(prep.frame)),
                 "limit": cfg.limit},
        "cleaning": prep.split.corpus.report.as_dict(),
        "split": prep.split.describe(),
        "seed": cfg.seed,
        "params": params,
        "versions": library_versions(),
    }
