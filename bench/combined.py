"""The cascade and the ensemble against their members, on models folders of several split seeds.

    python bench/combined.py --models-dirs M42,M43,M44 [--members lr,bert] [--speed-posts 300]

Each folder holds the two members trained on one split (``python -m train --models lr,bert
--seed S --out M``). For each, the cascade and the ensemble of the members are built there
(``python -m train --models cascade,ensemble``, timed), then the script prints, on the test posts:
each member alone, the equal mean of their probabilities, the ensemble (weights chosen on held-out
posts, recalibrated), the cascade at its operating point (chosen on held-out posts) and at fixed
shares of the test posts routed (the least confident first, as the issue's table), and posts per
second of each member, the cascade and the ensemble, timed here on the first test posts with the
models loaded as every command loads them. Targets: the cascade at <= 50% routed keeps macro-F1
>= the second member alone at >= 2x its posts/s; the ensemble >= the best member on two of three
seeds with ECE <= 0.06.
"""
from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _proc import ROOT, run_measured

from mhexplain.artifacts.folder import proba_column, read_manifest, read_predictions
from mhexplain.artifacts.registry import load_classifier
from mhexplain.cli.args import option, parse
from mhexplain.evaluation.combined import posts_per_second
from mhexplain.evaluation.metrics import macro_f1
from mhexplain.trust.calibration import ece

FIXED_SHARES = (0.4, 0.6)


@dataclass
class Settings:
    models_dirs: tuple[str, ...] = option((), "models folders, one per split seed, each holding both members")
    members: tuple[str, ...] = option(("lr", "bert"), "the two members: the cascade's first, then its second")
    speed_posts: int = option(300, "test posts each model is timed on", min=10)
    build: bool = option(True, "build the cascade and the ensemble first (else read the ones there)")


def test_proba(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    preds = read_predictions(folder / name)
    labels = read_manifest(folder / name)["labels"]
    return preds[[proba_column(lab) for lab in labels]].to_numpy(dtype=float), preds["true_label"].to_numpy()


def fixed_share(first: np.ndarray, second: np.ndarray, share: float) -> np.ndarray:
    """The cascade's answers when the least confident ``share`` of the posts go to the second member."""
    k = int(round(share * len(first)))
    routed = np.argsort(first.max(1), kind="stable")[:k]
    out = first.copy()
    out[routed] = second[routed]
    return out


def build(folder: Path, members: tuple[str, ...]) -> None:
    pair = ",".join(members)
    cmd = [sys.executable, "-m", "train", "--out", str(folder), "--models", "cascade,ensemble",
           "--cascade-members", pair, "--ensemble-members", pair]
    r = run_measured(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT))
    if r["returncode"] != 0:
        raise SystemExit(r["output"][-2000:])
    print(f"  built in {r['seconds']:.1f} s (the cascade's and the ensemble's own speed checks included), "
          f"peak RSS {r['peak_rss_mib']:.0f} MiB")


def report(folder: Path, members: tuple[str, ...], speed_posts: int) -> dict:
    a, b = members
    (pa, y), (pb, _) = test_proba(folder, a), test_proba(folder, b)
    k = pa.shape[1]
    row = {a: macro_f1(y, pa.argmax(1), k), b: macro_f1(y, pb.argmax(1), k),
           "equal mean": macro_f1(y, ((pa + pb) / 2).argmax(1), k)}
    pe, _ = test_proba(folder, "ensemble")
    pc, _ = test_proba(folder, "cascade")
    ens = json.loads((folder / "ensemble" / "combination.json").read_text())
    cas = json.loads((folder / "cascade" / "metrics.json").read_text())["combination"]["operating_point"]
    row |= {"ensemble": macro_f1(y, pe.argmax(1), k), "ensemble ECE": ece(pe, y), "weights": ens["weights"],
            "cascade": macro_f1(y, pc.argmax(1), k), "routed": cas["share_routed"]}
    for share in FIXED_SHARES:
        row[f"cascade {share:.0%}"] = macro_f1(y, fixed_share(pa, pb, share).argmax(1), k)
    # for reference only (chosen on the test posts): the fewest routed that reach the second alone
    reach = [sh for sh in np.arange(0, 1.001, 0.01) if macro_f1(y, fixed_share(pa, pb, sh).argmax(1), k) >= row[b]]
    row["reaches second"] = float(reach[0]) if reach else None
    texts = read_predictions(folder / a)["text"].astype(str).tolist()[:speed_posts]
    row["posts/s"] = {m: posts_per_second(load_classifier(folder / m), texts) for m in (a, b, "cascade", "ensemble")}
    return row


def main(argv=None) -> int:
    s = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
          f"{os.getloadavg()[0]:.2f}")
    a, b = s.members
    rows = []
    for folder in map(Path, s.models_dirs):
        print(f"{folder} (split seed {read_manifest(folder / a)['split']['seed']}):")
        if s.build:
            build(folder, s.members)
        row = report(folder, s.members, s.speed_posts)
        rows.append(row)
        speeds = row["posts/s"]
        print(f"  macro-F1: {a} {row[a]:.3f}, {b} {row[b]:.3f}, equal mean {row['equal mean']:.3f}, ensemble "
              f"{row['ensemble']:.3f} (weights {', '.join(f'{w:.2f}' for w in row['weights'])}; ECE "
              f"{row['ensemble ECE']:.3f}), cascade {row['cascade']:.3f} at {row['routed']:.1%} routed; "
              + ", ".join(f"cascade at {sh:.0%} routed {row[f'cascade {sh:.0%}']:.3f}" for sh in FIXED_SHARES)
              + f"; on the test posts the cascade first reaches {b} alone at "
              + ("no share" if row["reaches second"] is None else f"{row['reaches second']:.0%} routed"))
        print(f"  posts/s on {s.speed_posts} test posts: " + ", ".join(f"{m} {v:.1f}" for m, v in speeds.items())
              + f"; cascade / {b}: {speeds['cascade'] / speeds[b]:.1f}x")
    if rows:
        mean = {key: float(np.mean([r[key] for r in rows])) for key in (a, b, "equal mean", "ensemble", "cascade")}
        print("mean macro-F1: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()))
        best = sum(r["ensemble"] >= max(r[a], r[b]) for r in rows)
        kept = sum(r["cascade"] >= r[b] and r["routed"] <= 0.5 for r in rows)
        print(f"ensemble >= the best member on {best} of {len(rows)} seeds; cascade at <= 50% routed >= {b} alone on "
              f"{kept} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
