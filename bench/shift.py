"""The shift check (``mhexplain.trust.shift``): its verdict and time on posts held out from the
training data, and on files from other sources, against a model folder's test posts.

    python bench/shift.py --models-dir models --data data/data_to_be_cleansed.csv \
        --other data/conventions.csv,data/rotten-tomatoes.csv [--posts 2000]

The in-domain posts are the training split's (the reference is the test split, so none of them is
in it); each other file's ``text`` column is read as it comes, its first ``--posts`` rows.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _proc  # noqa: F401 (puts the project on sys.path)
import numpy as np
import pandas as pd

from mhexplain.artifacts.folder import read_manifest, read_predictions
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsFolder
from mhexplain.datasets.dataset import DatasetSpec, read_dataset
from mhexplain.datasets.split import make_split
from mhexplain.trust.shift import Reference


@dataclass
class Settings:
    data: Path = option(help="the training data of that model (the Kaggle file: its preset columns)")
    folder: ModelsFolder = group(ModelsFolder, "models")
    model: str = option("lr", "the model folder whose test posts are the reference")
    other: tuple[Path, ...] = option((), "CSV files from other sources, each with a 'text' column")
    posts: int = option(2000, "posts checked per file", min=1)


def _check(name: str, reference: Reference, texts: list[str]) -> None:
    t0 = time.perf_counter()
    verdict = reference.test(reference.similarity(texts))
    seconds = time.perf_counter() - t0
    print(f"{name:28s} {len(texts):6,} posts  {seconds:5.2f} s  detected {str(verdict['detected']):5s}  "
          f"AUC {verdict['auc']:.3f}  p {verdict['p_value']:.2g}  "
          f"below the reference's 5th percentile {verdict['share_below_reference_5th_percentile']:.1%}")


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    folder = a.folder.models_dir / a.model
    t0 = time.perf_counter()
    reference = Reference.from_texts(read_predictions(folder)["text"])
    print(f"reference: {len(reference.typical):,} test posts of {folder}, built in {time.perf_counter() - t0:.2f} s")
    manifest = read_manifest(folder)
    dataset = read_dataset(a.data, DatasetSpec())
    split = make_split(dataset.frame, dataset.labels, manifest["split"]["protocol"], manifest["split"]["seed"])
    rng = np.random.default_rng(0)
    train = split.train["input"].tolist()
    _check("held out: the training split", reference,
           [train[i] for i in rng.choice(len(train), min(a.posts, len(train)), replace=False)])
    for path in a.other:
        _check(path.name, reference, pd.read_csv(path)["text"].astype(str).head(a.posts).tolist())
    post = "I can't sleep before exams, my chest gets tight and I keep thinking something terrible will happen."
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        reference.typicality(reference.similarity([post]))
        times.append(time.perf_counter() - t0)
    print(f"one post: median {np.median(times) * 1000:.1f} ms over 20")
    return 0


if __name__ == "__main__":
    sys.exit(main())
