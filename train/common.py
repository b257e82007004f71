"""Steps every model's training shares: reading the data, the split, the manifest."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from mhexplain.artifacts import library_versions, now_iso
from mhexplain.data import file_sha256, read_posts
from mhexplain.labels import LABELS
from mhexplain.split import Split, make_split, stratified_sample

from .config import TrainConfig

logger = logging.getLogger("mhexplain.train")


@contextmanager
def stage(name: str):
    logger.info("%s ...", name)
    t0 = time.perf_counter()
    yield
    logger.info("%s done in %.1f s", name, time.perf_counter() - t0)


@dataclass
class Prepared:
    frame: pd.DataFrame
    data_sha256: str
    split: Split


def prepare(cfg: TrainConfig, seed: int | None = None, frame: pd.DataFrame | None = None,
            data_sha256: str | None = None) -> Prepared:
    if frame is None:
        frame = read_posts(cfg.data)
        data_sha256 = file_sha256(cfg.data)
        if cfg.limit:
            frame = stratified_sample(frame, cfg.limit, cfg.seed)
    split = make_split(frame, cfg.protocol, cfg.seed if seed is None else seed)
    return Prepared(frame, data_sha256 or "", split)


def base_manifest(cfg: TrainConfig, prep: Prepared, kind: str, params: dict, train_seconds: float) -> dict:
    return {
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
