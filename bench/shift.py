"""The shift check (``mhexplain.trust.shift``): its verdict and time on posts held out from the
training data, and on files from other sources, against a model folder's test posts.

    python bench/shift.py --models-dir models --data data/data_to_be_cleansed.csv \
        --other data/conventions.csv,data/rotten-tomatoes.csv [--posts 2000]

The in-domain posts are the training split's (the reference is the test split, so none of them is
in it): a random ``--posts`` of them, and each class's alone (a file of one forum's posts, in
effect: up to 300 of them); each other file's ``text`` column is read as it comes, its first
``--posts`` rows. Each file's time is the whole file-level check (similarities and the two-sample
test), not the models' scoring.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _proc  # noqa: F401 (puts the project on sys.path)
import numpy as np
import pandas as pd

from mhexplain.artifacts.folder import read_manifest
from mhexplain.artifacts.registry import load_classifier, select_models
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsFolder
from mhexplain.datasets.dataset import DatasetSpec, read_dataset
from mhexplain.datasets.split import make_split
from mhexplain.scoring.shift import shift_reference
from mhexplain.trust.shift import Reference, Sample


@dataclass
class Settings:
    data: Path = option(help="the training data of that model (read with the columns its manifest names)")
    folder: ModelsFolder = group(ModelsFolder, "models")
    model: str = option("lr", "the model folder whose test posts are the reference")
    other: tuple[Path, ...] = option((), "CSV files from other sources, each with a 'text' column")
    posts: int = option(2000, "posts checked per file", min=1)


def _check(name: str, reference: Reference, texts: list[str], clf) -> None:
    classes = clf.predict_proba(texts).argmax(1)  # the model's own predictions: not part of the check's time
    t0 = time.perf_counter()
    sample = Sample()
    sample.add(texts, classes)
    similarity = reference.similarity(texts)
    per_post = (time.perf_counter() - t0) / max(len(texts), 1)  # what score adds to every row it writes
    verdict = reference.test(sample, similarity)
    seconds = time.perf_counter() - t0
    print(f"{name:34s} {len(texts):6,} posts  {seconds:5.2f} s ({per_post * 1000:.2f} ms a post for similarities)  "
          f"detected {str(verdict['detected']):5s}  "
          f"AUC {verdict['auc']:.3f}  p {verdict['p_value']:.2g}  "
          f"below the reference's 5th percentile {verdict['share_below_reference_5th_percentile']:.1%}")


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    folder = a.folder.models_dir / a.model
    t0 = time.perf_counter()
    reference = shift_reference(select_models(a.folder.models_dir, [a.model]))
    print(f"reference: {len(reference.typical):,} test posts of {folder}, built in {time.perf_counter() - t0:.2f} s")
    clf = load_classifier(folder)
    manifest = read_manifest(folder)
    cols = manifest["data"].get("columns") or {}
    spec = DatasetSpec() if cols.get("preset") or not cols else DatasetSpec(
        cols["text"], cols["title"], cols["label"], tuple(manifest["labels"]), cols["group"])
    dataset = read_dataset(a.data, spec)
    split = make_split(dataset.frame, dataset.labels, manifest["split"]["protocol"], manifest["split"]["seed"])
    rng = np.random.default_rng(0)
    train = split.train["input"].tolist()
    _check("held out: the training split", reference,
           [train[i] for i in rng.choice(len(train), min(a.posts, len(train)), replace=False)], clf)
    for k, label in enumerate(dataset.labels):
        posts = split.train.loc[split.train["target"] == k, "input"].tolist()
        _check(f"held out: {label} alone", reference,
               [posts[i] for i in rng.choice(len(posts), min(300, len(posts)), replace=False)], clf)
    for path in a.other:
        _check(path.name, reference, pd.read_csv(path)["text"].astype(str).head(a.posts).tolist(), clf)
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
