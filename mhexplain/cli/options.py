"""The options several commands share, declared once: the models folder, the models, a CSV read in chunks.

The bench scripts take the same groups, so ``--models-dir`` and ``--models`` mean one thing everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mhexplain.artifacts.registry import ModelInfo, load_models, select_models
from mhexplain.classifiers.catalog import MODEL_NAMES
from mhexplain.cli.args import option
from mhexplain.core.classifier import Classifier
from mhexplain.scoring.files import DEFAULT_CHUNK
from mhexplain.settings import default_models_dir


@dataclass
class ModelsFolder:
    models_dir: Path = option(default_models_dir, "the models folder (default: the first of MHX_MODELS_DIR, else "
                                                  "models)")


@dataclass
class ModelsOptions(ModelsFolder):
    models: tuple[str, ...] | None = option(None, f"comma-separated subset of the folder's models, among "
                                                  f"{','.join(MODEL_NAMES)} (default: all trained)")

    def select(self) -> list[ModelInfo]:
        """The models asked for, as every command reads ``--models`` (``registry.select_models``)."""
        return select_models(self.models_dir, self.models)

    def load(self) -> dict[str, Classifier]:
        return load_models(self.models_dir, self.models)


@dataclass
class CsvInput:
    data: Path = option(help="a CSV with a header row")
    chunk_size: int = option(DEFAULT_CHUNK, "rows read and scored at a time", min=1)
