"""Training as a library: what the CLI and the app's Overview page call.

``run`` checks every output before any work starts, reports each stage to an optional
progress callback, and writes ``models/<name>/`` folders atomically (see artifacts).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import shutil
from contextlib import nullcontext
from pathlib import Path

from mhexplain.artifacts.folder import check_replaceable, move_into_place
from mhexplain.artifacts.registry import discover
from mhexplain.classifiers.catalog import DEFAULT_MODELS, combines, kinds_of, resolve
from mhexplain.core.errors import ConfigError
from mhexplain.core.hashing import sha256_bytes, sha256_file
from mhexplain.core.outputs import check_output_dir
from mhexplain.datasets.dataset import DatasetSpec, check_preset_fits, read_dataset_upload
from mhexplain.preprocess import memory_only
from mhexplain.training.combined import check_members
from mhexplain.training.common import Progress, prepare, stage
from mhexplain.training.config import TrainConfig
from mhexplain.trust.shortcuts import read_word_list

logger = logging.getLogger("mhexplain.train")


def check_config(cfg: TrainConfig) -> None:
    """Everything that can be refused before any work: the settings' ranges (as the command line
    checks them), output folders and the folders a run would replace, the BERT encoder's folder."""
    found = cfg.problems()
    if found:
        raise ConfigError(found[0])
    check_output_dir(cfg.out, "--out")
    for name in cfg.models:
        check_replaceable(cfg.out / name)
    if cfg.mask_words and cfg.mask_words != "default":
        read_word_list(cfg.mask_words)  # a word list that cannot be read is refused now
    if cfg.cache_dir is not None:
        check_output_dir(cfg.cache_dir, "--cache-dir")
    if "bert" in cfg.models and cfg.bert.model_name_or_path:
        check_encoder_path(cfg.bert.model_name_or_path)
    made = [name for name in cfg.models if combines(name)]
    data_sha256 = sha256_file(cfg.data) if made and cfg.needs_data and Path(cfg.data).is_file() else None
    for name in made:
        check_members(cfg, name, data_sha256)


def check_encoder_path(name: str) -> None:
    """A local folder must hold a model; a name that looks like a path must exist."""
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"--bert-model {name} is a file; give a model folder or a hub id.")
        if not (path / "config.json").is_file():
            raise ConfigError(f"--bert-model {name} has no config.json; it is not a saved model folder.")
    elif name.startswith(("/", "./", "../", "~")) or name.count("/") > 1:
        raise ConfigError(f"--bert-model {name}: no such folder.")


def run(cfg: TrainConfig, progress=None, dataset=None, data_sha256: str | None = None) -> dict:
    """Train ``cfg.models``; the library entry point behind the CLI and the app.

    ``progress`` is called with each stage's name as it starts (``planned_stages(cfg)``).
    ``dataset`` (with ``data_sha256``) trains on posts already read, e.g. an uploaded file: they are
    preprocessed in memory only, never added to the preprocessing cache on disk (uploads are never
    written; the only files such a run writes are the models).
    """
    check_config(cfg)
    prep = _prepare(cfg, progress, dataset, data_sha256) if cfg.needs_data else None
    # Every model is written to a staging folder first and moved into place only when all of them
    # are done: a failed or interrupted run leaves the models folder as it was.
    out_existed = cfg.out.exists()
    staging = cfg.out / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with memory_only() if dataset is not None else nullcontext():
            results = _train(dataclasses.replace(cfg, out=staging, models_dir=cfg.out), prep, progress)
        for name in results:
            if (staging / name).is_dir():
                move_into_place(staging / name, cfg.out / name)
                logger.info("%s -> %s", name, cfg.out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not out_existed and cfg.out.is_dir() and not any(cfg.out.iterdir()):
            cfg.out.rmdir()
    for info in discover(cfg.out) if results else []:
        if combines(info.name) and info.name not in results and info.path.exists() and not info.ok:
            logger.warning("%s", info.error)  # a member this run replaced: the combination needs rebuilding
    return results


def _prepare(cfg: TrainConfig, progress, dataset, data_sha256):
    """The data read and split, with the split's report logged."""
    with stage(f"reading {cfg.data} ({cfg.protocol} protocol, seed {cfg.seed})", progress, "reading"):
        prep = prepare(cfg, dataset=dataset, data_sha256=data_sha256)
    rep = prep.split.describe()
    logger.info("split (%s): %d train / %d test, %d test posts with a copy in training; cleaning %s", rep["method"],
                rep["n_train"], rep["n_test"], rep["train_test_overlap"], prep.split.corpus.report.as_dict())
    if "grouping" in rep:
        g = rep["grouping"]
        logger.info("groups: %d, %d on both sides (a row-level split would have put %d on both sides, with %d of "
                    "its test posts)", g["groups"], g["groups_in_both"], g["row_level_split"]["groups_in_both"],
                    g["row_level_split"]["test_rows_in_shared_groups"])
    return prep


def _train(cfg: TrainConfig, prep, progress) -> dict:
    """Each kind's trainer (``classifiers.catalog``) trains its models of ``cfg.models``."""
    results = {}
    for kind in kinds_of(cfg.models):
        results.update(resolve(kind.trainer).train(cfg, prep, progress))
    return results


def train_upload(raw: bytes, name: str, out: Path, models=DEFAULT_MODELS, progress: Progress | None = None,
                 dataset: DatasetSpec | None = None, **options) -> dict:
    """Train on an uploaded CSV's bytes (size-capped, parsed in memory: no file is written but the
    models), its columns named by ``dataset`` (default: the Kaggle file's)."""
    spec = dataset or DatasetSpec()
    cfg = TrainConfig(data=Path(Path(name).name or "upload.csv"), out=Path(out), models=tuple(models),
                      dataset=spec, **options)
    if cfg.test_data is not None:
        raise ConfigError("an upload is trained on alone: it cannot name a separate test file")
    check_config(cfg)  # before the upload is parsed
    data = read_dataset_upload(raw, name, spec)
    check_preset_fits(data, name)
    return run(cfg, progress, dataset=data, data_sha256=sha256_bytes(raw))
