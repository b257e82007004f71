"""Fine-tune a BERT-architecture encoder for sequence classification on the raw post text.

Same split as NB/LR for the protocol and seed; a stratified 10% of the training split is held
out to choose the best epoch; the test set is scored once, at the end. Runs on one CPU, one GPU,
or several GPUs under ``accelerate launch -m train --models bert ...``.
"""
from __future__ import annotations

import copy
import logging
import math
import time

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from mhexplain.artifacts import predictions_frame, write_artifact
from mhexplain.bert import (BertClassifier, InferenceConfig, cap_heap_caching, encode_chunks, pad_batch,
                            predict_proba_model, release_memory, resolve_encoder, resolve_precision)
from mhexplain.errors import ArtifactError
from mhexplain.labels import LABELS
from mhexplain.metrics import classification_metrics, macro_f1

from .common import TQDM_DISABLE, Progress, Prepared, base_manifest, stage
from .config import BertTrainConfig, TrainConfig

logger = logging.getLogger("mhexplain.train")

SMALL_MODEL_HIDDEN = 512  # encoders narrower than this get the higher default learning rate
TRIM_EVERY = 20  # optimiser steps between handing freed CPU memory back (see release_memory)


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


def _collate(ids: list[list[int]], rows: np.ndarray, labels: np.ndarray, pad_id: int):
    import torch

    batch, mask = pad_batch([ids[r] for r in rows], pad_id)
    return batch, mask, torch.as_tensor(labels[rows], dtype=torch.long)


def _precision() -> str:
    """Accelerate's mixed precision: the inference choice on a GPU; fp32 ("no") for CPU training,
    where bf16 fine-tuning has not been measured."""
    import torch

    if not torch.cuda.is_available():
        return "no"
    return resolve_precision("auto", "cuda")


def load_encoder(encoder: str):
    """Tokenizer and a 5-class sequence classifier on ``encoder``; one log line, not transformers'
    load report, says which weights start fresh (the new classification head, as expected)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(encoder)
        model, info = AutoModelForSequenceClassification.from_pretrained(
            encoder, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
            label2id={lab: i for i, lab in enumerate(LABELS)}, output_loading_info=True,
            ignore_mismatched_sizes=True)  # an encoder saved with another head gets a fresh 5-class one
    except Exception as err:  # hub, file and format errors come in many types; all mean "cannot load"
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


def train_bert(cfg: TrainConfig, prep: Prepared, progress: Progress | None = None) -> dict:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_linear_schedule_with_warmup

    bc: BertTrainConfig = cfg.bert
    if bc.threads:
        torch.set_num_threads(bc.threads)
    set_seed(cfg.seed)
    # Decided before the Accelerator exists: its state is a process-wide singleton that a second
    # Accelerator with another precision may not change.
    accel = Accelerator(mixed_precision=_precision())
    encoder = resolve_encoder(bc.model_name_or_path)
    if accel.device.type == "cpu":
        cap_heap_caching()
    logger.info("BERT encoder %s on %s (precision %s, %d process(es))", encoder, accel.device,
                accel.mixed_precision, accel.num_processes)

    split = prep.split
    train_df, test_df = split.train, split.test
    tr_idx, val_idx = train_test_split(np.arange(len(train_df)), test_size=bc.val_fraction,
                                       stratify=train_df["target"], random_state=cfg.seed)
    fit_df, val_df = train_df.iloc[tr_idx], train_df.iloc[val_idx]

    tokenizer, model = load_encoder(encoder)
    lr = bc.learning_rate or (2e-5 if model.config.hidden_size >= SMALL_MODEL_HIDDEN else 5e-5)

    # Training sees each post's first window; long posts are scored over all windows at eval.
    ids, _, _ = encode_chunks(tokenizer, fit_df["input"].tolist(), bc.max_length, bc.stride, None, truncate=True)
    y = fit_df["target"].to_numpy()
    lengths = np.array([len(x) for x in ids])
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
    sched = get_linear_schedule_with_warmup(optim, int(bc.warmup_ratio * total_steps), total_steps)
    model, optim, sched = accel.prepare(model, optim, sched)
    infer = InferenceConfig(max_length=bc.max_length, long_text=bc.long_text, stride=bc.stride,
                            max_chunks=bc.max_chunks, batch_size=bc.eval_batch_size)
    rng = np.random.default_rng(cfg.seed)
    history, best = [], {"val_macro_f1": -1.0}
    step, t0, samples = 0, time.perf_counter(), 0
    n_epochs = math.ceil(bc.epochs)
    with stage(f"fine-tuning {total_steps} steps (lr {lr:g}, batch {bc.batch_size}, max length {bc.max_length})",
               progress, "fine-tuning"):
        for epoch in range(n_epochs):
            model.train()
            batches = length_grouped_batches(lengths, bc.batch_size, rng)
            batches = batches[accel.process_index::accel.num_processes]
            epoch_t0 = time.perf_counter()
            loss_sum = torch.zeros((), device=accel.device)  # summed on device: no per-step host sync
            bar = tqdm(batches, desc=f"epoch {epoch + 1}/{n_epochs}", leave=False,
                       disable=TQDM_DISABLE if accel.is_local_main_process else True)
            n_steps_epoch = 0
            for rows in bar:
                if step >= total_steps:
                    break
                inp, mask, lab = _collate(ids, rows, y, tokenizer.pad_token_id)
                inp, mask, lab = inp.to(accel.device), mask.to(accel.device), lab.to(accel.device)
                with accel.autocast():
                    out = model(input_ids=inp, attention_mask=mask, labels=lab)
                accel.backward(out.loss)
                accel.clip_grad_norm_(model.parameters(), bc.max_grad_norm)
                optim.step()
                sched.step()
                optim.zero_grad(set_to_none=True)
                loss_sum += out.loss.detach()
                step += 1
                n_steps_epoch += 1
                samples += len(rows)
                if accel.device.type == "cpu" and step % TRIM_EVERY == 0:
                    release_memory()
            epoch_s = time.perf_counter() - epoch_t0
            unwrapped = accel.unwrap_model(model)
            unwrapped.eval()
            val_proba = predict_proba_model(unwrapped, tokenizer, val_df["input"].tolist(), infer, accel.device)
            val_f1 = macro_f1(val_df["target"].to_numpy(), val_proba.argmax(1))
            release_memory()
            rec = {"epoch": epoch + 1, "steps": step, "train_loss": float(loss_sum.item() / max(n_steps_epoch, 1)),
                   "val_macro_f1": val_f1, "epoch_seconds": round(epoch_s, 1)}
            history.append(rec)
            logger.info("epoch %d: train loss %.4f, validation macro-F1 %.4f (%.0f s)", epoch + 1,
                        rec["train_loss"], val_f1, epoch_s)
            if val_f1 > best["val_macro_f1"]:
                best = {**rec, "state": {k: v.detach().cpu().clone() for k, v in unwrapped.state_dict().items()}}
            if step >= total_steps:
                break
    train_seconds = time.perf_counter() - t0
    accel.wait_for_everyone()
    if not accel.is_main_process:
        return {}
    final = copy.deepcopy(accel.unwrap_model(model)).float()
    final.load_state_dict(best.pop("state"))
    final.eval()

    with stage("scoring the test set (chunked and truncated)", progress, "scoring"):
        test_texts = test_df["input"].tolist()
        y_test = test_df["target"].to_numpy()
        eval_t0 = time.perf_counter()
        proba = {}
        for mode in (bc.long_text, "truncate" if bc.long_text == "chunk" else "chunk"):
            with tqdm(desc=f"scoring the test set ({mode})", unit="window", leave=False,
                      disable=TQDM_DISABLE) as bar:
                proba[mode] = predict_proba_model(final, tokenizer, test_texts, infer, accel.device, long_text=mode,
                                                  progress=bar)
        eval_seconds = time.perf_counter() - eval_t0
    comparison = {mode: {"macro_f1": macro_f1(y_test, p.argmax(1)),
                         "accuracy": float((p.argmax(1) == y_test).mean())} for mode, p in proba.items()}
    _, _, n_win = encode_chunks(tokenizer, test_texts, bc.max_length, bc.stride, bc.max_chunks, truncate=False)
    metrics = classification_metrics(y_test, proba[bc.long_text])
    metrics.update({
        "model": "bert", "protocol": split.protocol, "train_test_overlap": split.train_test_overlap,
        "long_text": bc.long_text, "long_text_comparison": comparison,
        "test_posts_over_max_length": int((n_win > 1).sum()),
        "history": history, "best_epoch": best["epoch"],
    })
    params = {"encoder": encoder, "max_length": bc.max_length, "epochs": bc.epochs, "batch_size": bc.batch_size,
              "learning_rate": lr, "weight_decay": bc.weight_decay, "warmup_ratio": bc.warmup_ratio,
              "max_grad_norm": bc.max_grad_norm, "val_fraction": bc.val_fraction, "long_text": bc.long_text,
              "stride": bc.stride, "max_chunks": bc.max_chunks, "steps": step, "max_steps": bc.max_steps,
              "device": str(accel.device), "precision": accel.mixed_precision,
              "eval_precision": resolve_precision(infer.precision, accel.device), "processes": accel.num_processes,
              "torch_threads": torch.get_num_threads(), "best_epoch": best["epoch"],
              "train_samples_per_second": round(samples / max(train_seconds, 1e-9), 2),
              "test_eval_seconds_both_modes": round(eval_seconds, 1)}
    manifest = base_manifest(cfg, prep, "bert", params, train_seconds)
    manifest["metrics"] = {k: metrics[k] for k in ("accuracy", "macro_f1", "macro_f1_ci", "cohen_kappa")}
    clf = BertClassifier(final, tokenizer, config=infer, device=accel.device)
    preds = predictions_frame(test_df["post_id"], test_texts, y_test, proba[bc.long_text])
    if progress is not None:
        progress("saving bert")
    write_artifact(cfg.out, "bert", clf.save, manifest, metrics, preds)
    other = next(m for m in comparison if m != bc.long_text)
    logger.info("bert: macro-F1 %.3f [%.3f, %.3f] (%s; %s %.3f)", metrics["macro_f1"], *metrics["macro_f1_ci"],
                bc.long_text, other, comparison[other]["macro_f1"])
    return metrics
