"""Training as a library: what the CLI and the app's Overview page call.

``run`` checks every output before any work starts, reports each stage to an optional
progress callback, and writes ``models/<name>/`` folders atomically (see artifacts).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import shutil
from contextlib import nullcontext
from pathlib import Path

from mhexplain.artifacts.folder import MANIFEST, REQUIRED_FILES, move_into_place
from mhexplain.classifiers.catalog import DEFAULT_MODELS, kinds_of, resolve
from mhexplain.core.errors import ConfigError
from mhexplain.core.hashing import sha256_bytes
from mhexplain.core.outputs import check_output_dir
from mhexplain.datasets.posts import read_upload
from mhexplain.preprocess import memory_only
from mhexplain.training.common import Progress, prepare, stage
from mhexplain.training.config import TrainConfig
from mhexplain.trust.shortcuts import MASKING_FILE, WordMask

logger = logging.getLogger("mhexplain.train")
# Every name a model folder of ours may hold whatever its manifest says: a folder whose manifest
# cannot be read (an older or damaged model) is still recognised by its files.
MODEL_FOLDER_FILES = frozenset({MANIFEST, MASKING_FILE}.union(*REQUIRED_FILES.values()))
# A manifest lists a dozen files in a few kilobytes; a larger one is not read to decide.
MAX_MANIFEST_BYTES = 1_000_000


def check_config(cfg: TrainConfig) -> None:
    """Everything that can be refused before any work: the settings' ranges (as the command line
    checks them), output folders and the folders a run would replace, the BERT encoder's folder."""
    found = cfg.problems()
    if found:
        raise ConfigError(found[0])
    check_output_dir(cfg.out, "--out")
    for name in cfg.models:
        check_replaceable(cfg.out / name)
    if cfg.mask_words:
        WordMask.from_spec(cfg.mask_words)  # a word list that cannot be read is refused now
    if cfg.cache_dir is not None:
        check_output_dir(cfg.cache_dir, "--cache-dir")
    if "bert" in cfg.models and cfg.bert.model_name_or_path:
        check_encoder_path(cfg.bert.model_name_or_path)


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
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError, RecursionError):
        return set()
    return {f for f in files if isinstance(f, str)} if isinstance(files, dict) else set()


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


def run(cfg: TrainConfig, progress=None, frame=None, data_sha256: str | None = None) -> dict:
    """Train ``cfg.models``; the library entry point behind the CLI and the app.

    ``progress`` is called with each stage's name as it starts (``planned_stages(cfg)``).
    ``frame`` (with ``data_sha256``) trains on posts already read, e.g. an uploaded file: they are
    preprocessed in memory only, never added to the preprocessing cache on disk (uploads are never
    written; the only files such a run writes are the models).
    """
    check_config(cfg)
    with stage(f"reading {cfg.data} ({cfg.protocol} protocol, seed {cfg.seed})", progress, "reading"):
        prep = prepare(cfg, frame=frame, data_sha256=data_sha256)
    rep = prep.split.describe()
    logger.info("split: %d train / %d test, overlap %d; cleaning %s", rep["n_train"], rep["n_test"],
                rep["train_test_overlap"], prep.split.corpus.report.as_dict())
    # Every model is written to a staging folder first and moved into place only when all of them
    # are done: a failed or interrupted run leaves the models folder as it was.
    out_existed = cfg.out.exists()
    staging = cfg.out / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with memory_only() if frame is not None else nullcontext():
            results = _train(dataclasses.replace(cfg, out=staging), prep, progress)
        for name in results:
            if (staging / name).is_dir():
                move_into_place(staging / name, cfg.out / name)
                logger.info("%s -> %s", name, cfg.out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not out_existed and cfg.out.is_dir() and not any(cfg.out.iterdir()):
            cfg.out.rmdir()
    return results


def _train(cfg: TrainConfig, prep, progress) -> dict:
    """Each kind's trainer (``classifiers.catalog``) trains its models of ``cfg.models``."""
    results = {}
    for kind in kinds_of(cfg.models):
        results.update(resolve(kind.trainer).train(cfg, prep, progress))
    return results


def train_upload(raw: bytes, name: str, out: Path, models=DEFAULT_MODELS, progress: Progress | None = None,
                 **options) -> dict:
    """Train on an uploaded CSV's bytes (size-capped, parsed in memory: no file is written but the models)."""
    frame = read_upload(raw, name, require_target=True)
    cfg = TrainConfig(data=Path(Path(name).name or "upload.csv"), out=Path(out), models=tuple(models), **options)
    return run(cfg, progress, frame=frame, data_sha256=sha256_bytes(raw))
