"""What the operator configures, and nothing a visitor can change: the one module that reads
mhexplain's environment variables (``MHX_*``).

A web visitor never types a server path. The models folders, the dataset for in-app training
and whether training from the browser is allowed at all come from the server's environment:

- ``MHX_MODELS_DIR``: one models folder, or several separated by ``os.pathsep`` (``:`` on
  Linux and macOS); a visitor picks among them. Default: ``models``.
- ``MHX_ALLOW_TRAINING=1``: the Overview page may train NB + LR into the selected folder, from
  an uploaded CSV (size-capped) or from the dataset the server found (``dataset_path``). Off by
  default; ``make run`` (which serves on localhost only) turns it on.
- ``MHX_CACHE_DIR``: where NLTK preprocessing is cached (default ``~/.cache/mhexplain``).
- ``MHX_NO_NLTK_DOWNLOAD=1``: never try NLTK's downloader (offline machines, CI).
- ``MHX_BERT_PRECISION`` (auto, fp32, bf16, fp16) and ``MHX_TORCH_THREADS``: how BERT models are
  served, whatever their folder says.
- ``MHX_DATA``: the dataset CSV; without it, ``data/data_to_be_cleansed.csv`` in the project (then
  ``../shared/data/`` beside it), as the README says. ``python -m train`` and the benchmarks read
  the same default (``dataset_path``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR_ENV = "MHX_MODELS_DIR"
CACHE_DIR_ENV = "MHX_CACHE_DIR"
NO_NLTK_DOWNLOAD_ENV = "MHX_NO_NLTK_DOWNLOAD"
BERT_PRECISION_ENV = "MHX_BERT_PRECISION"
TORCH_THREADS_ENV = "MHX_TORCH_THREADS"
CHROMIUM_ENV = "MHX_CHROMIUM"  # the browser the end-to-end test and the screenshots drive
DATA_ENV = "MHX_DATA"
ALLOW_TRAINING_ENV = "MHX_ALLOW_TRAINING"
DEFAULT_MODELS_DIR = "models"
DATA_FILE = "data_to_be_cleansed.csv"
PROJECT = Path(__file__).resolve().parents[1]
# The largest file a visitor may upload (Batch page, in-app training), in the megabytes of 10**6
# bytes that Streamlit counts: its browser side refuses a larger file and shows the limit as "10MB
# per file", so the app checks and names the same megabytes and never a second limit.
# .streamlit/config.toml's server.maxUploadSize says the same to Streamlit's own server.
MAX_UPLOAD_MB = 10
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 10**6
_TRUE = {"1", "true", "yes", "on"}

# The most work a BERT model folder may ask of the server per post and per forward pass: a
# folder is not trusted to size it, and training refuses settings beyond these too.
MAX_CHUNKS_LIMIT, BATCH_SIZE_LIMIT = 64, 1024

def configured_models_dirs() -> tuple[Path, ...]:
    """The operator's models folders, in the order given, without repeats."""
    raw = os.environ.get(MODELS_DIR_ENV, "")
    dirs: list[Path] = []
    for part in raw.split(os.pathsep):
        part = part.strip()
        if part and Path(part) not in dirs:
            dirs.append(Path(part))
    return tuple(dirs) or (Path(DEFAULT_MODELS_DIR),)


def default_models_dir() -> Path:
    """The first configured models folder: where the CLIs read and write by default."""
    return configured_models_dirs()[0]


def dataset_path() -> Path | None:
    """The dataset every command reads by default (``python -m train``, the app's in-app training,
    the benchmarks): MHX_DATA when it is set, else data/data_to_be_cleansed.csv in the project,
    else ../shared/data/data_to_be_cleansed.csv beside it (the development machines); None when
    there is none.

    A set MHX_DATA is used even when no file is there, so that the error names the path the user
    gave instead of another file being read in its place.
    """
    given = os.environ.get(DATA_ENV)
    if given:
        return Path(given)
    for found in (PROJECT / "data" / DATA_FILE, PROJECT.parent / "shared" / "data" / DATA_FILE):
        if found.is_file():
            return found
    return None


def cache_dir() -> Path:
    """Where preprocessed posts are cached between runs."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "mhexplain")


def nltk_download_allowed() -> bool:
    return not os.environ.get(NO_NLTK_DOWNLOAD_ENV)


def bert_precision() -> str | None:
    """The precision every BERT model is served in when the operator sets one (None: its own)."""
    return os.environ.get(BERT_PRECISION_ENV) or None


def torch_threads() -> int | None:
    value = os.environ.get(TORCH_THREADS_ENV, "")
    return int(value) if value.isdigit() else None


def chromium() -> str | None:
    return os.environ.get(CHROMIUM_ENV) or None


def training_allowed() -> bool:
    return os.environ.get(ALLOW_TRAINING_ENV, "").strip().lower() in _TRUE


@dataclass(frozen=True)
class ServerSettings:
    models_dirs: tuple[Path, ...]
    allow_training: bool
    data_path: Path | None  # the dataset the server found, for in-app training

    @classmethod
    def from_env(cls) -> "ServerSettings":
        return cls(configured_models_dirs(), training_allowed(), dataset_path())
