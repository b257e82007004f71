"""CPU inference figures for a trained BERT folder: load time and memory, one-post latency,
batch throughput, and int8 dynamic quantization (speed and test macro-F1).

    python bench/bert_infer.py [--model-dir models/bert] [--threads N] [--posts 20]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def latency(clf, texts, repeats: int) -> tuple[float, float]:
    times = []
    for t in texts[:repeats]:
        t0 = time.perf_counter()
        clf.predict_proba([t])
        times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 90))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", default="models/bert")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--posts", type=int, default=30, help="posts for the one-at-a-time latency")
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    import transformers  # noqa: F401  (import cost kept out of the load figure)

    from mhexplain.artifacts import read_predictions
    from mhexplain.metrics import macro_f1
    from mhexplain.registry import load_classifier

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {a.threads}")
    before = rss_mib()
    t0 = time.perf_counter()
    clf = load_classifier(Path(a.model_dir))
    print(f"load: {time.perf_counter() - t0:.2f} s, +{rss_mib() - before:.0f} MiB RSS "
          f"({sum(p.numel() for p in clf.model.parameters()) / 1e6:.1f} M parameters)")
    preds = read_predictions(Path(a.model_dir))
    texts, y = preds["text"].tolist(), preds["true_label"].to_numpy()
    clf.predict_proba(texts[:2])  # warm-up
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.permutation(len(texts))[:a.posts]]
    for name, c in (("fp32", clf), ("int8 dynamic", clf.quantized())):
        p50, p90 = latency(c, sample, a.posts)
        t0 = time.perf_counter()
        proba = c.predict_proba(texts)
        dt = time.perf_counter() - t0
        print(f"{name:13s} one post p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms; "
              f"whole test set ({len(texts)} posts, {c.config.long_text}) {dt:.1f} s = {len(texts) / dt:.1f} posts/s; "
              f"macro-F1 {macro_f1(y, proba.argmax(1)):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
