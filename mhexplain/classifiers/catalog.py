"""The models mhexplain knows, in one place: each model's name, title, plot colour and kind, and
for each kind the files its folders hold, the function that loads one and the module that trains it.

See docs/ARCHITECTURE.md, "Adding a model". Trainers are named by their module's path, not
imported: they live in the training layer, above this one (tests/test_structure.py checks that
each one resolves and has ``train`` and ``stages``).
"""
from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mhexplain.classifiers.bert import BERT_FILES, BertClassifier
from mhexplain.classifiers.combined import COMBINATION_FILE, load_cascade, load_ensemble
from mhexplain.classifiers.ngram import load_ngram
from mhexplain.classifiers.sklearn_model import load_sklearn
from mhexplain.classifiers.skops_files import SKOPS_FILE
from mhexplain.core.classifier import Classifier


@dataclass(frozen=True)
class Kind:
    name: str
    model_files: tuple[str, ...]  # what every folder of this kind lists, besides calibration, metrics, predictions
    loader: Callable[[Path, dict], Classifier]  # (model folder, checked manifest) -> the model
    # a module (or "module:object") with train(cfg, prep, progress) -> {name: metrics} and
    # stages(cfg) -> [stage names]
    trainer: str
    training_time: str  # for the app's help text
    default: bool  # trained when no --models is given
    # built from other trained models of its models folder, not from the data: its loader takes
    # (checked manifest, {member name: loaded member}, its checked combination.json)
    combines: bool = False


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    colour: str
    kind: str


KINDS = {
    "sklearn": Kind("sklearn", (SKOPS_FILE,), load_sklearn,
                    "mhexplain.training.classical", "seconds", True),
    "ngram": Kind("ngram", (SKOPS_FILE,), load_ngram, "mhexplain.training.ngram", "about half a minute", False),
    "bert": Kind("bert", BERT_FILES, BertClassifier.from_artifact,
                 "mhexplain.training.bert", "a GPU takes minutes; two CPU cores about 26 minutes with the offline "
                 "encoder", False),
    "cascade": Kind("cascade", (COMBINATION_FILE,), load_cascade, "mhexplain.training.combined:CASCADE_TRAINER",
                    "seconds, once its members are trained", False, combines=True),
    "ensemble": Kind("ensemble", (COMBINATION_FILE,), load_ensemble, "mhexplain.training.combined:ENSEMBLE_TRAINER",
                     "seconds, once its members are trained", False, combines=True),
}
MODELS = {
    "nb": ModelSpec("nb", "Naive Bayes", "#1f77b4", "sklearn"),
    "lr": ModelSpec("lr", "Logistic Regression", "#ff7f0e", "sklearn"),
    "ngram": ModelSpec("ngram", "N-gram LR", "#d62728", "ngram"),
    "bert": ModelSpec("bert", "BERT", "#2ca02c", "bert"),
    "cascade": ModelSpec("cascade", "Cascade", "#17becf", "cascade"),
    "ensemble": ModelSpec("ensemble", "Ensemble", "#bcbd22", "ensemble"),
}
MODEL_NAMES = tuple(MODELS)
DEFAULT_MODELS = tuple(n for n, m in MODELS.items() if KINDS[m.kind].default)

# Colours for a model folder with another name; picked by a stable hash, so a name keeps its
# colour from one run to the next (Python's own hash() of a string changes per process).
FALLBACK_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def title(name: str) -> str:
    return MODELS[name].title if name in MODELS else name


def colour(name: str) -> str:
    if name in MODELS:
        return MODELS[name].colour
    return FALLBACK_COLOURS[hashlib.sha256(name.encode()).digest()[0] % len(FALLBACK_COLOURS)]


def combines(name: str) -> bool:
    """Whether model ``name`` is built from other models (a cascade, an ensemble)."""
    return name in MODELS and KINDS[MODELS[name].kind].combines


def models_of(kind: str, among=MODEL_NAMES) -> list[str]:
    """The models of ``kind`` among ``among``, in catalog order."""
    return [n for n, m in MODELS.items() if m.kind == kind and n in among]


def kinds_of(names) -> list[Kind]:
    """The kinds of the models ``names``, each once, in catalog order."""
    return [KINDS[k] for k in dict.fromkeys(MODELS[n].kind for n in MODEL_NAMES if n in names)]


def resolve(ref: str):
    """The object a trainer reference names: "package.module" or "package.module:attr.attr"."""
    module, _, attrs = ref.partition(":")
    found = importlib.import_module(module)
    for attr in filter(None, attrs.split(".")):
        found = getattr(found, attr)
    return found
