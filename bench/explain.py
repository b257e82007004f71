"""Explanation speed and quality on real test posts, per model and method.

For each model found in the models folder and each method (LIME, SHAP): seconds per
explanation (p50/p90), model evaluations used, and faithfulness (AOPC comprehensiveness and
sufficiency) at the model's default budget and at 4x that budget; plus rank agreement between
LIME and SHAP for the same model and between models for the same method. For SHAP with a
one-context walk ("empty"/"full", which visit the whole word tree and so do not change with a
larger budget) also against shap's default averaged context ("both") at 4x the budget.

    python bench/explain.py [--models-dir models] [--posts 20] [--models nb,lr,bert] [--budget N]
                            [--methods lime,shap] [--shap-context empty|full|both]
"""
from __future__ import annotations

import itertools
import os
import platform
import sys
from dataclasses import dataclass

import _proc  # noqa: F401 (puts the project on sys.path)
import numpy as np

from mhexplain.artifacts.folder import read_predictions
from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsOptions
from mhexplain.explain import explain, rank_agreement
from mhexplain.explain.engine import DEFAULT_SHAP_CONTEXT, METHODS, SHAP_CONTEXTS


@dataclass
class Settings:
    models: ModelsOptions = group(ModelsOptions, "models")
    posts: int = option(20, "random test posts (seed 0) of the first model", min=1)
    budget: int | None = option(None, "evaluations per explanation for every model (default: each model's own)")
    four_x: bool = option(True, "also explain at 4x the budget and compare", flag="--4x")
    methods: tuple[str, ...] = option(("lime", "shap"), "comma-separated", choices=METHODS)
    shap_context: str | None = option(None, "default: the engine's", choices=tuple(SHAP_CONTEXTS))


def _mean(explanations, score: str) -> float:
    """Mean faithfulness score; a post with no word the model sees has none and is left out."""
    return float(np.nanmean([e.faithfulness.get(score, np.nan) for e in explanations]))


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    clfs = a.models.load()
    preds = read_predictions(a.models.models_dir / next(iter(clfs)))
    rng = np.random.default_rng(0)
    texts = [preds["text"].iloc[i] for i in rng.permutation(len(preds))[:a.posts]]
    words = [len(t.split()) for t in texts]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {len(texts)} test posts "
          f"(words: median {int(np.median(words))}, max {max(words)}); models {', '.join(clfs)}")
    context = a.shap_context or DEFAULT_SHAP_CONTEXT
    print(f"SHAP context: {context}")
    results = {(name, method): timed(clf, method, texts, a, context)
               for name, clf in clfs.items() for method in a.methods}
    agreement(list(clfs), a.methods, results)
    return 0


def timed(clf, method: str, texts: list[str], a: Settings, context: str) -> list:
    """Explain every post with one model and method; print the line of figures; the explanations
    (at the budget, and at 4x it)."""
    budget = a.budget or clf.explain_budget
    kw = {"shap_context": context}
    explain(clf, texts[0], method, budget=20, **kw)  # warm-up: imports and SHAP's first-call set-up
    runs, both4 = [], []
    for t in texts:
        e = explain(clf, t, method, budget=budget, **kw)
        e4 = explain(clf, t, method, budget=4 * budget, **kw) if a.four_x else None
        runs.append((e, e4))
        if method == "shap" and context != "both" and a.four_x:
            both4.append(explain(clf, t, method, budget=4 * budget, shap_context="both"))
    secs = np.array([e.seconds for e, _ in runs])
    evals = np.array([e.n_evals + e.faithfulness.get("n_evals", 0) for e, _ in runs])
    comp, suff = _mean([e for e, _ in runs], "comprehensiveness"), _mean([e for e, _ in runs], "sufficiency")
    line = (f"{clf.name:5s} {method:5s} budget {budget:5d}: p50 {np.percentile(secs, 50):6.2f} s, "
            f"p90 {np.percentile(secs, 90):6.2f} s, evals/explanation {evals.mean():6.0f}, "
            f"comprehensiveness {comp:.3f}, sufficiency {suff:.3f}")
    if a.four_x:
        comp4, suff4 = _mean([e4 for _, e4 in runs], "comprehensiveness"), _mean([e4 for _, e4 in runs], "sufficiency")
        secs4 = np.percentile([e4.seconds for _, e4 in runs], 50)
        line += (f" | 4x budget: p50 {secs4:.2f} s, comprehensiveness {comp4:.3f}, sufficiency "
                 f"{suff4:.3f}; ratio {comp / comp4 if comp4 else float('nan'):.2f}")
    if both4:
        compb, suffb = _mean(both4, "comprehensiveness"), _mean(both4, "sufficiency")
        line += (f" | context 'both' at 4x budget: p50 {np.percentile([e.seconds for e in both4], 50):.2f} s, "
                 f"comprehensiveness {compb:.3f}, sufficiency {suffb:.3f}; ratio {comp / compb:.2f}")
    print(line, flush=True)
    return runs


def agreement(names: list[str], methods, results: dict) -> None:
    """Rank agreement of LIME and SHAP for each model, and of each pair of models for each method."""
    for name in names:
        if (name, "lime") in results and (name, "shap") in results:
            rho = [rank_agreement(lime_exp.target_weights(), shap_exp.target_weights(lime_exp.target),
                                  among=lime_exp.seen)["spearman"]
                   for (lime_exp, _), (shap_exp, _) in zip(results[(name, "lime")], results[(name, "shap")])]
            print(f"LIME vs SHAP, {name}: mean Spearman {np.nanmean(rho):.3f}")
    for method in methods:
        for m1, m2 in itertools.combinations(names, 2):
            rho = []
            for (e1, _), (e2, _) in zip(results[(m1, method)], results[(m2, method)]):
                rho.append(rank_agreement(e1.target_weights(e1.target), e2.target_weights(e1.target),
                                          among=e1.seen & e2.seen)["spearman"])
            print(f"{method.upper()} {m1} vs {m2} (same target class): mean Spearman {np.nanmean(rho):.3f}")


if __name__ == "__main__":
    sys.exit(main())
