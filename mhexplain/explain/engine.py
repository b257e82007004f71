"""One entry point, ``explain``, for every model and method.

Perturbed posts go through each model's own ``predict_proba`` (the classical models
re-preprocess them), which batches them by the model's ``batch_size``.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..classifier import Classifier, validate_texts
from ..errors import InputTextError
from .cache import ExplanationCache
from .faithfulness import faithfulness
from .result import Explanation
from .units import Units, UnitTokenizer

METHODS = ("lime", "shap", "linear")
DEFAULT_BUDGET = 500
DEFAULT_MAX_UNITS = 300
DEFAULT_SEED = 0


# Perturbations handed to predict_proba per call. Whole sets rather than one batch at a time, so a
# model that sorts by length (BERT) pads each batch only to its own longest text: 2.0x faster on
# LIME's perturbations (docs/BENCHMARKS.md). The cap bounds tokenizer memory on long posts.
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


def _lime(predict: _Counted, units: Units, labels, budget: int, seed: int):
    from lime.lime_text import LimeTextExplainer

    spans = units.spans
    words = units.words
    explainer = LimeTextExplainer(class_names=list(labels), split_expression=lambda s: words, bow=False,
                                  mask_string="", feature_selection="none", random_state=seed)
    exp = explainer.explain_instance(units.text, predict, labels=range(len(labels)), num_features=len(spans),
                                     num_samples=budget)
    W = np.zeros((len(spans), len(labels)))
    base = np.zeros(len(labels))
    for c in range(len(labels)):
        for f, w in exp.local_exp[c]:
            W[f, c] = w
        base[c] = exp.intercept[c]
    return W, base, "probability (local linear fit)"


def _shap(predict: _Counted, units: Units, labels, budget: int, seed: int):
    import shap

    masker = shap.maskers.Text(UnitTokenizer())
    bs = max(1, int(getattr(predict.clf, "batch_size", 64)))
    explainer = shap.Explainer(lambda xs: predict(list(xs)), masker, algorithm="partition",
                               output_names=list(labels), seed=seed)
    # Partition needs at least two evaluations per unit to split the whole tree once.
    sv = explainer([units.text], max_evals=max(budget, 2 * len(units) + 1), batch_size=bs, silent=True)
    values = np.asarray(sv.values[0], dtype=float)
    if values.shape[0] != len(units):
        raise RuntimeError(f"SHAP returned {values.shape[0]} attributions for {len(units)} words")
    return values, np.asarray(sv.base_values[0], dtype=float), "probability (Shapley values)"


def _linear(clf, units: Units):
    fn = getattr(clf, "linear_contributions", None)
    if fn is None:
        raise InputTextError(f"Model {clf.name!r} is not linear; use method 'lime' or 'shap'.")
    W, base, space = fn(units.text, units.spans)
    return W, base, space


def explain(clf: Classifier, text: str, method: str = "shap", target: int | None = None,
            budget: int | None = None, seed: int = DEFAULT_SEED, max_units: int = DEFAULT_MAX_UNITS,
            cache: ExplanationCache | None = None, with_faithfulness: bool = True) -> Explanation:
    """Attribute ``clf``'s prediction for ``text`` to the words of the post.

    ``target`` defaults to the predicted class. ``budget`` is the number of model evaluations
    LIME/SHAP may spend (default: the model's ``explain_budget``). Posts longer than
    ``max_units`` words are explained over their first ``max_units`` words, and the result says so.
    """
    if method not in METHODS:
        raise InputTextError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    if not isinstance(text, str):
        raise InputTextError(f"Expected the post as text, got {type(text).__name__}.")
    (text,) = validate_texts([text])
    budget = int(budget or getattr(clf, "explain_budget", DEFAULT_BUDGET))
    if budget < 10:
        raise InputTextError("The evaluation budget must be at least 10.")
    if target is not None and not 0 <= int(target) < len(clf.labels):
        raise InputTextError(f"Target class {target} is not one of 0-{len(clf.labels) - 1}.")
    key = None
    if cache is not None:
        key = cache.key(clf, text, method, target, budget, seed, max_units)
        hit = cache.get(key)
        if hit is not None:
            hit.cached = True
            return hit
    t0 = time.perf_counter()
    full = Units.of(text)
    if len(full) == 0:
        raise InputTextError("The post has no words to explain.")
    units = full.truncated(max_units)
    note = None
    if len(units) < len(full):
        note = (f"Long post: explained its first {len(units):,} of {len(full):,} words "
                f"({len(units.text):,} of {len(text):,} characters); the model saw only that part.")
    predict = _Counted(clf)
    proba = predict([units.text])[0]
    tgt = int(np.argmax(proba)) if target is None else int(target)
    if method == "lime":
        W, base, space = _lime(predict, units, clf.labels, budget, seed)
    elif method == "shap":
        W, base, space = _shap(predict, units, clf.labels, budget, seed)
    else:
        W, base, space = _linear(clf, units)
    n_evals = predict.n
    exp = Explanation(model=clf.name, method=method, text=units.text, spans=list(units.spans), weights=W,
                      base_value=base, proba=proba, labels=list(clf.labels), target=tgt, budget=budget,
                      n_evals=n_evals, seconds=0.0, seed=seed, original_length=len(text), truncated=note,
                      output_space=space)
    if with_faithfulness:
        exp.faithfulness = faithfulness(units, W[:, tgt], tgt, predict, p_full=float(proba[tgt]))
    exp.seconds = time.perf_counter() - t0
    if cache is not None and key is not None:
        cache.put(key, exp)
    return exp
