"""Typed training configuration, filled from the command line."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mhexplain.split import DEFAULT_PROTOCOL, DEFAULT_SEED

CLASSICAL_MODELS = ("nb", "lr")
ALL_MODELS = ("nb", "lr", "bert")


@dataclass
class BertTrainConfig:
    model_name_or_path: str | None = None  # None: bert-base-uncased on CUDA, else the offline MiniLM
    max_length: int = 256
    epochs: float = 3.0
    batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float | None = None  # None: 2e-5 for bert-base-sized encoders, 5e-5 for small ones
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    val_fraction: float = 0.1
    long_text: str = "chunk"  # how long posts are scored: "chunk" (sliding windows) or "truncate"
    stride: int | None = None  # None: half of max_length (128 at the default 256)
    max_chunks: int = 8
    max_steps: int = -1
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.stride is None:
            self.stride = self.max_length // 2


@dataclass
class TrainConfig:
    data: Path
    out: Path = Path("models")
    models: tuple[str, ...] = CLASSICAL_MODELS
    protocol: str = DEFAULT_PROTOCOL
    seed: int = DEFAULT_SEED
    limit: int | None = None
    repeats: int = 1
    n_jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    cache_dir: Path | None = None
    bert: BertTrainConfig = field(default_factory=BertTrainConfig)

    def as_dict(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
