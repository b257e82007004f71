"""CPU inference figures for a trained BERT folder: load time and memory, one-post latency,
batch throughput and test macro-F1 in fp32, bf16 autocast and int8 dynamic quantization; how far
bf16 and int8 move the probabilities from fp32; and the cost per text of scoring word-dropped
copies of a post (what LIME and SHAP send) one model batch per call versus the whole set per call.

    python bench/bert_infer.py [--model-dir models/bert] [--threads N] [--posts 30]
"""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import _proc  # noqa: F401 (puts the project on sys.path)
import numpy as np

from mhexplain.artifacts.folder import read_predictions
from mhexplain.artifacts.registry import load_classifier
from mhexplain.classifiers.bert import BertClassifier, cpu_has_amx
from mhexplain.cli.args import option, parse
from mhexplain.evaluation.metrics import macro_f1


@dataclass
class Settings:
    model_dir: Path = option(Path("models/bert"), "a trained BERT model's folder")
    threads: int | None = option(os.cpu_count, "torch CPU threads (default: every core)", min=1)
    posts: int = option(30, "posts for the one-at-a-time latency", min=1)


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


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    import torch  # heavy: imported once the command line is read (so --help is quick)

    if a.threads:
        torch.set_num_threads(a.threads)
    import transformers  # noqa: F401  (import cost kept out of the load figure)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {a.threads}")
    before = rss_mib()
    t0 = time.perf_counter()
    clf = load_classifier(a.model_dir).base  # the BERT model itself: raw speed, before calibration
    print(f"load: {time.perf_counter() - t0:.2f} s, +{rss_mib() - before:.0f} MiB RSS "
          f"({sum(p.numel() for p in clf.model.parameters()) / 1e6:.1f} M parameters)")
    preds = read_predictions(a.model_dir)
    texts, y = preds["text"].tolist(), preds["true_label"].to_numpy()
    clf.predict_proba(texts[:2])  # warm-up
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.permutation(len(texts))[:a.posts]]
    print(f"CPU has AMX: {cpu_has_amx()}; precision 'auto' resolves to {clf.precision}")
    variants = {"fp32": BertClassifier(clf.model, clf.tokenizer, "fp32", clf.labels,
                                       replace(clf.config, precision="fp32"), device="cpu"),
                "bf16 autocast": BertClassifier(clf.model, clf.tokenizer, "bf16", clf.labels,
                                                replace(clf.config, precision="bf16"), device="cpu"),
                "int8 dynamic": clf.quantized()}
    probas = {}
    for name, c in variants.items():
        c.predict_proba(texts[:2])  # warm-up: oneDNN picks its kernels on the first call
        p50, p90 = latency(c, sample, a.posts)
        t0 = time.perf_counter()
        proba = probas[name] = c.predict_proba(texts)
        dt = time.perf_counter() - t0
        line = (f"{name:13s} one post p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms; "
                f"whole test set ({len(texts)} posts, {c.config.long_text}) {dt:.1f} s = {len(texts) / dt:.1f} "
                f"posts/s; macro-F1 {macro_f1(y, proba.argmax(1)):.4f}")
        if name != "fp32":
            ref = probas["fp32"]
            line += (f"; vs fp32: same class {np.mean(proba.argmax(1) == ref.argmax(1)):.2%}, "
                     f"max |dp| {np.abs(proba - ref).max():.4f}, mean |dp| {np.abs(proba - ref).mean():.5f}")
        print(line, flush=True)
    perturbation_cost(variants, sample, rng)
    return 0


def perturbation_cost(variants: dict, sample: list[str], rng, n: int = 320, posts: int = 4) -> None:
    """ms per text for LIME-style copies of a post (each word dropped with a random rate)."""
    sets = []
    for text in sorted(sample, key=lambda t: len(t.split()))[len(sample) // 2:][:posts]:
        words = text.split()
        sets.append([" ".join(w for w in words if rng.random() > r) or words[0] for r in rng.random(n)])
    for name in ("fp32", "bf16 autocast"):
        c = variants[name]
        saved = c.config.batch_size
        runs = [(f"{saved} per call, batches of {saved}", saved, saved)]
        runs += [(f"whole set per call, batches of {bs}", n, bs) for bs in (16, 32, 64)]
        for label, chunk, bs in runs:
            c.config.batch_size = bs
            t0 = time.perf_counter()
            for texts in sets:
                for i in range(0, n, chunk):
                    c.predict_proba(texts[i:i + chunk])
            ms = (time.perf_counter() - t0) / (n * len(sets)) * 1000
            print(f"perturbations ({len(sets)} posts x {n} copies, median-or-longer posts of the sample), "
                  f"{name}, {label}: {ms:.1f} ms per text", flush=True)
        c.config.batch_size = saved


if __name__ == "__main__":
    sys.exit(main())
