"""One entry point, ``explain``, for every model and method.

Perturbed posts go through each model's own ``predict_proba`` (the classical models
re-preprocess them), which batches them by the model's ``batch_size``. The features are the
words the model sees (``classifier.visible_units``): the others stay in every perturbed post and
weigh exactly 0, as a word that cannot change the prediction must (the dummy property).
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from mhexplain.core.classifier import (
    Classifier,
    answering,
    explain_budget,
    linear_contributions,
    validate_texts,
    visible_units,
)
from mhexplain.core.errors import ConfigError, InputTextError
from mhexplain.datasets.split import MAX_SEED
from mhexplain.explain.cache import ExplanationCache
from mhexplain.explain.faithfulness import faithfulness
from mhexplain.explain.result import Explanation
from mhexplain.explain.units import Units, UnitTokenizer

METHODS = ("lime", "shap", "linear")
# Which words stay present when the Partition explainer weighs a group of words (shap's
# ``fixed_context``): "empty" adds each group to its parent's context with its sibling absent,
# "full" removes it with its sibling present, "both" averages the two (shap's default).
# "empty" and "full" walk the whole word tree in about 2 evaluations per word; "both" branches
# four ways and needs a larger budget. "empty" is the default: on BERT it came within 3% of the
# comprehensiveness of "both" at 4x the budget, in 0.8 s instead of 34 s (docs/BENCHMARKS.md).
SHAP_CONTEXTS = {"empty": 0, "full": 1, "both": None}
DEFAULT_SHAP_CONTEXT = "empty"
DEFAULT_MAX_UNITS = 300
DEFAULT_SEED = 0
# Model evaluations per explanation. Fewer than 10 fit nothing. The ceiling is 50 times the app's
# largest choice (2,000) and 25 times the benchmarks' (4,000): LIME builds all its perturbed posts
# at once, so memory and time grow with the budget (LIME on LR, a 300-word post, 2 cores: 0.34 GB
# and 18 s at 10,000; 1.0 GB and 2.7 min at 100,000), and a mistyped budget must not take the machine.
MIN_BUDGET, MAX_BUDGET = 10, 100_000


# Perturbations handed to predict_proba per call. Whole sets rather than one batch at a time, so a
# model that sorts by length (BERT) pads each batch only to its own longest text: 1.6-1.7x
# faster on LIME-style perturbations than one model batch per call
# (docs/BENCHMARKS.md). The cap bounds tokenizer memory on long posts.
EVAL_CHUNK = 1024


class _Counted:
    """Wraps a classifier's predict_proba and counts the texts it scores."""

    def __init__(self, clf: Classifier) -> None:
        self.clf = clf
        self.n = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        self.n += len(texts)
        parts = [np.asarray(self.clf.predict_proba(texts[i:i + EVAL_CHUNK]))
                 for i in range(0, len(texts), EVAL_CHUNK)]
        return np.vstack(parts) if parts else np.zeros((0, len(self.clf.labels)))


# LIME settings. "types": one feature per distinct word, so a sample drops every occurrence of a
# word together (LIME's bag-of-words mode); "positions": one feature per occurrence. Kernel width
# None is a flat kernel (every sample weighs the same); a number is LIME's exponential kernel of
# that width (its default is 25). On BERT, types + flat reached at 1,000 evaluations the
# comprehensiveness LIME's own defaults need 4,000 for (docs/BENCHMARKS.md).
LIME_FEATURES = ("types", "positions")
DEFAULT_LIME_FEATURES = "types"
DEFAULT_LIME_KERNEL_WIDTH: float | None = None


def _flat_kernel(d, kernel_width):
    return np.ones_like(d, dtype=float)


def _feature_of_unit(words: list[str], bow: bool) -> np.ndarray:
    """Each unit's LIME feature: its distinct word (numbered in order of first occurrence) with
    ``bow``, else its own position."""
    if not bow:
        return np.arange(len(words))
    first: dict[str, int] = {}
    return np.array([first.setdefault(w, len(first)) for w in words])


def _lime(predict: _Counted, units: Units, labels, budget: int, seed: int, features: str,
          kernel_width: float | None):
    from lime.lime_text import LimeTextExplainer

    bow = features == "types"
    # LIME perturbs a stand-in post of one code per unit ("w<feature>"), decoded here into the post
    # without the units it drops: LIME finds words by searching the text, which could match inside
    # a word that is no feature (the model does not see it).
    feature = _feature_of_unit(units.words, bow)

    def classify(stand_ins: list[str]) -> np.ndarray:
        return predict([units.keep(np.isin(feature, [int(c[1:]) for c in s.split()])) for s in stand_ins])

    explainer = LimeTextExplainer(class_names=list(labels), split_expression=str.split, bow=bow,
                                  mask_string="", feature_selection="none", random_state=seed,
                                  kernel_width=kernel_width or 25.0,
                                  kernel=_flat_kernel if kernel_width is None else None)
    # with feature_selection "none" every feature is fitted and reported
    exp = explainer.explain_instance(" ".join(f"w{f}" for f in feature), classify, labels=range(len(labels)),
                                     num_features=len(units), num_samples=budget)
    indexed = exp.domain_mapper.indexed_string
    # a "types" feature stands for every occurrence of its word
    units_of = [np.flatnonzero(feature == int(indexed.word(f)[1:])) for f in range(indexed.num_words())]
    W = np.zeros((len(units), len(labels)))
    base = np.zeros(len(labels))
    for c in range(len(labels)):
        for f, w in exp.local_exp[c]:
            W[units_of[f], c] = w
        base[c] = exp.intercept[c]
    space = "probability (local linear fit" + (", per distinct word)" if bow else ")")
    return W, base, space


def _single_word(predict: _Counted, units: Units):
    """A one-word post's attribution, exactly: with one player, its Shapley (and Owen) value is the
    prediction with the word minus the prediction without it. shap's text masker cannot split a
    one-word post, so this is not left to it."""
    with_word, without = predict([units.text, units.keep(np.zeros(1, dtype=bool))])
    return (with_word - without)[None, :], np.asarray(without, dtype=float), "probability (exact, one word)"


def _no_features(predict: _Counted, units: Units):
    """The attribution when the model sees none of the words: nothing to perturb, no weight."""
    return np.zeros((0, len(predict.clf.labels))), predict([units.text])[0], "probability (no word seen)"


def _unit_masker(units: Units):
    """shap's text masker over ``units``: it groups them into shap's word tree as usual, but builds
    each perturbed post with ``Units.keep`` (as LIME and the faithfulness scores do), so the text
    around the units, words the model does not see included, stays as written."""
    import shap

    class UnitMasker(shap.maskers.Text):
        def __call__(self, mask, s):
            return (np.array([units.keep(self._standardize_mask(mask, s))]),)

    return UnitMasker(UnitTokenizer(units))


def _shap(predict: _Counted, units: Units, labels, budget: int, seed: int, context: str):
    if len(units) == 1:
        return _single_word(predict, units)
    import shap

    masker = _unit_masker(units)
    # Masks per model call. The one-context walks visit every node whatever the order, so they
    # send large sets (the model length-sorts them); "both" expands the most influential groups
    # first, and larger batches blunt that: on BERT, 256 instead of 32 lost 2% comprehensiveness
    # at 1,000 evaluations.
    bs = EVAL_CHUNK if context != "both" else max(1, int(getattr(predict.clf, "batch_size", 64)))
    explainer = shap.Explainer(lambda xs: predict(list(xs)), masker, algorithm="partition",
                               output_names=list(labels), seed=seed)
    # Partition needs at least two evaluations per unit to split the whole tree once.
    sv = explainer([units.text], max_evals=max(budget, 2 * len(units) + 1), batch_size=bs, silent=True,
                   fixed_context=SHAP_CONTEXTS[context])
    values = np.asarray(sv.values[0], dtype=float)
    if values.shape[0] != len(units):
        raise RuntimeError(f"SHAP returned {values.shape[0]} attributions for {len(units)} words")
    space = "probability (Shapley values)" if context == "both" else f"probability (Owen values, {context} context)"
    return values, np.asarray(sv.base_values[0], dtype=float), space


def _linear(clf, units: Units):
    fn = linear_contributions(clf)
    if fn is None:
        raise ConfigError(f"Model {clf.name!r} is not linear; use method 'lime' or 'shap'.")
    W, base, space = fn(units.text, units.spans)
    return W, base, space


@dataclass(frozen=True)
class ExplainSettings:
    """Everything that shapes an explanation besides the model, the post and the class.

    ``budget``: model evaluations LIME/SHAP may spend, ``MIN_BUDGET`` to ``MAX_BUDGET`` (None: the
    model's ``explain_budget``). ``seed``: 0 to ``MAX_SEED``. Posts longer than ``max_units`` (at
    least 1) words are explained over their first ``max_units`` words, and the result says so.
    ``shap_context`` picks the Partition explainer's context (see ``SHAP_CONTEXTS``);
    ``lime_features`` and ``lime_kernel_width`` set LIME's features and kernel (see ``LIME_FEATURES``).
    """

    budget: int | None = None
    seed: int = DEFAULT_SEED
    max_units: int = DEFAULT_MAX_UNITS
    shap_context: str = DEFAULT_SHAP_CONTEXT
    lime_features: str = DEFAULT_LIME_FEATURES
    lime_kernel_width: float | None = DEFAULT_LIME_KERNEL_WIDTH
    with_faithfulness: bool = True

    def problems(self) -> list[str]:
        """What cannot work in these settings, in sentences: what ``checked`` refuses, and what the
        command line refuses before it loads a model."""
        out = []
        if self.budget is not None and not _whole_within(self.budget, MIN_BUDGET, MAX_BUDGET):
            out.append(f"The evaluation budget must be a whole number from {MIN_BUDGET} to {MAX_BUDGET:,} (or none, "
                       "for the model's own).")
        if not _whole_within(self.seed, 0, MAX_SEED):
            out.append(f"The seed must be a whole number from 0 to {MAX_SEED}.")
        if not _whole_within(self.max_units, 1, math.inf):
            out.append("The number of words explained (max_units) must be a whole number, at least 1.")
        if self.shap_context not in SHAP_CONTEXTS:
            out.append(f"Unknown SHAP context {self.shap_context!r}; choose one of {', '.join(SHAP_CONTEXTS)}.")
        if self.lime_features not in LIME_FEATURES:
            out.append(f"Unknown LIME features {self.lime_features!r}; choose one of {', '.join(LIME_FEATURES)}.")
        if self.lime_kernel_width is not None and not _positive_finite(self.lime_kernel_width):
            out.append("The LIME kernel width must be a positive number, finite (or None for a flat kernel).")
        return out

    def checked(self, clf: Classifier) -> "ExplainSettings":
        """These settings with the model's budget filled in and the kernel width as a float, or a
        ConfigError naming what cannot work."""
        found = self.problems()
        if found:
            raise ConfigError(found[0])
        budget = int(self.budget if self.budget is not None else explain_budget(clf))
        if not MIN_BUDGET <= budget <= MAX_BUDGET:
            raise ConfigError(f"The model's own evaluation budget ({budget:,}) is not from {MIN_BUDGET:,} to "
                              f"{MAX_BUDGET:,}; give a budget.")
        width = None if self.lime_kernel_width is None else float(self.lime_kernel_width)  # 25 and 25.0: one entry
        return replace(self, budget=budget, seed=int(self.seed), max_units=int(self.max_units), lime_kernel_width=width)


def _whole_within(value, low, high) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and low <= value <= high


def _positive_finite(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0


class LimeExplainer:
    method = "lime"

    def params(self, s: ExplainSettings) -> dict:
        return {"lime_features": s.lime_features, "lime_kernel_width": s.lime_kernel_width}

    def attribute(self, clf, predict: _Counted, units: Units, s: ExplainSettings):
        if len(units) == 0:
            return _no_features(predict, units)
        return _lime(predict, units, clf.labels, s.budget, s.seed, s.lime_features, s.lime_kernel_width)


class ShapExplainer:
    method = "shap"

    def params(self, s: ExplainSettings) -> dict:
        return {"shap_context": s.shap_context}

    def attribute(self, clf, predict: _Counted, units: Units, s: ExplainSettings):
        if len(units) == 0:
            return _no_features(predict, units)
        return _shap(predict, units, clf.labels, s.budget, s.seed, s.shap_context)


class LinearExplainer:
    method = "linear"

    def params(self, s: ExplainSettings) -> dict:
        return {}

    def attribute(self, clf, predict: _Counted, units: Units, s: ExplainSettings):
        return _linear(clf, units)


EXPLAINERS = {e.method: e for e in (LimeExplainer(), ShapExplainer(), LinearExplainer())}


def _units(text: str, max_units: int) -> tuple[Units, str | None]:
    full = Units.of(text)
    if len(full) == 0:
        raise InputTextError("The post has no words to explain.")
    units = full.truncated(max_units)
    if len(units) == len(full):
        return units, None
    return units, (f"Long post: explained its first {len(units):,} of {len(full):,} words "
                   f"({len(units.text):,} of {len(text):,} characters); the model saw only that part.")


def explain(clf: Classifier, text: str, method: str = "shap", target: int | None = None,
            settings: ExplainSettings | None = None, cache: ExplanationCache | None = None,
            **overrides) -> Explanation:
    """Attribute ``clf``'s prediction for ``text`` to the words of the post.

    ``target`` defaults to the predicted class. ``settings`` (or keyword ``overrides`` of its
    fields, e.g. ``budget=500``) say how; see ``ExplainSettings``.
    """
    explainer = EXPLAINERS.get(method)
    if explainer is None:
        raise ConfigError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    if not isinstance(text, str):
        raise InputTextError(f"Expected the post as text, got {type(text).__name__}.")
    (text,) = validate_texts([text])
    member = answering(clf, text)
    if member is not None:  # a cascade's answer is one member's: so is its explanation
        exp = explain(member, text, method, target, settings, cache, **overrides)
        exp.answered_for = clf.name
        return exp
    s = replace(settings or ExplainSettings(), **overrides).checked(clf)
    if target is not None and not 0 <= int(target) < len(clf.labels):
        raise ConfigError(f"Target class {target} is not one of 0-{len(clf.labels) - 1}.")
    params = explainer.params(s)
    key = cache.key(clf, text, method, target, s.budget, s.seed, s.max_units, params) if cache is not None else None
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        hit.cached = True
        return hit
    t0 = time.perf_counter()
    units, note = _units(text, s.max_units)
    seen = visible_units(clf, units.text, units.spans)
    features = units.only(seen)
    predict = _Counted(clf)
    proba = predict([units.text])[0]
    tgt = int(np.argmax(proba)) if target is None else int(target)
    on_features, base, space = explainer.attribute(clf, predict, features, s)
    W = np.zeros((len(units), len(clf.labels)))
    W[seen] = on_features
    exp = Explanation(model=clf.name, method=method, text=units.text, spans=list(units.spans), weights=W,
                      base_value=base, proba=proba, labels=list(clf.labels), target=tgt, budget=s.budget,
                      n_evals=predict.n, seconds=0.0, seed=s.seed, original_length=len(text), truncated=note,
                      output_space=space, params=params, visible=seen.tolist())
    if s.with_faithfulness and len(features):
        exp.faithfulness = faithfulness(features, W[seen, tgt], tgt, predict, p_full=float(proba[tgt]))
    exp.seconds = time.perf_counter() - t0
    if cache is not None:
        cache.put(key, exp)
    return exp
