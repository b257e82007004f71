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

import argparse
import itertools
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _mean(explanations, score: str) -> float:
    """Mean faithfulness score; a post with no word the model sees has none and is left out."""
    return float(np.nanmean([e.faithfulness.get(score, np.nan) for e in explanations]))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models-dir", default=os.environ.get("MHX_MODELS_DIR", "models"))
    p.add_argument("--models", default="nb,lr,bert")
    p.add_argument("--posts", type=int, default=20)
    p.add_argument("--budget", type=int, help="override every model's default budget")
    p.add_argument("--no-4x", action="store_true", help="skip the 4x-budget comparison")
    p.add_argument("--methods", default="lime,shap")
    p.add_argument("--shap-context", default=None, help="default: the engine's")
    a = p.parse_args()
    from mhexplain.artifacts.folder import read_predictions
    from mhexplain.artifacts.registry import load_classifier
    from mhexplain.explain import explain, rank_agreement
    from mhexplain.explain.engine import DEFAULT_SHAP_CONTEXT

    models_dir = Path(a.models_dir)
    names = [n for n in a.models.split(",") if (models_dir / n).is_dir()]
    clfs = {n: load_classifier(models_dir / n) for n in names}
    preds = read_predictions(models_dir / names[0])
    rng = np.random.default_rng(0)
    texts = [preds["text"].iloc[i] for i in rng.permutation(len(preds))[:a.posts]]
    words = [len(t.split()) for t in texts]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {len(texts)} test posts "
          f"(words: median {int(np.median(words))}, max {max(words)}); models {', '.join(names)}")
    context = a.shap_context or DEFAULT_SHAP_CONTEXT
    methods = a.methods.split(",")
    print(f"SHAP context: {context}")
    results: dict[tuple[str, str], list] = {}
    for name, clf in clfs.items():
        for method in methods:
            budget = a.budget or clf.explain_budget
            kw = {"shap_context": context}
            explain(clf, texts[0], method, budget=20, **kw)  # warm-up: imports and SHAP's first-call set-up
            runs, both4 = [], []
            for t in texts:
                e = explain(clf, t, method, budget=budget, **kw)
                e4 = None if a.no_4x else explain(clf, t, method, budget=4 * budget, **kw)
                runs.append((e, e4))
                if method == "shap" and context != "both" and not a.no_4x:
                    both4.append(explain(clf, t, method, budget=4 * budget, shap_context="both"))
            results[(name, method)] = runs
            secs = np.array([e.seconds for e, _ in runs])
            evals = np.array([e.n_evals + e.faithfulness.get("n_evals", 0) for e, _ in runs])
            comp, suff = _mean([e for e, _ in runs], "comprehensiveness"), _mean([e for e, _ in runs], "sufficiency")
            line = (f"{name:5s} {method:5s} budget {budget:5d}: p50 {np.percentile(secs, 50):6.2f} s, "
                    f"p90 {np.percentile(secs, 90):6.2f} s, evals/explanation {evals.mean():6.0f}, "
                    f"comprehensiveness {comp:.3f}, sufficiency {suff:.3f}")
            if not a.no_4x:
                comp4, suff4 = _mean([e4 for _, e4 in runs], "comprehensiveness"), _mean([e4 for _, e4 in runs], "sufficiency")
                secs4 = np.percentile([e4.seconds for _, e4 in runs], 50)
                line += (f" | 4x budget: p50 {secs4:.2f} s, comprehensiveness {comp4:.3f}, sufficiency "
                         f"{suff4:.3f}; ratio {comp / comp4 if comp4 else float('nan'):.2f}")
            if both4:
                compb, suffb = _mean(both4, "comprehensiveness"), _mean(both4, "sufficiency")
                line += (f" | context 'both' at 4x budget: p50 {np.percentile([e.seconds for e in both4], 50):.2f} s, "
                         f"comprehensiveness {compb:.3f}, sufficiency {suffb:.3f}; ratio {comp / compb:.2f}")
            print(line, flush=True)
    for name in clfs:
        if (name, "lime") in results and (name, "shap") in results:
            rho = [rank_agreement(lime_exp.target_weights(), shap_exp.target_weights(lime_exp.target),
                                  among=lime_exp.seen)["spearman"]
                   for (lime_exp, _), (shap_exp, _) in zip(results[(name, "lime")], results[(name, "shap")])]
            print(f"LIME vs SHAP, {name}: mean Spearman {np.nanmean(rho):.3f}")
    for method in methods:
        for m1, m2 in itertools.combinations(clfs, 2):
            rho = []
            for (e1, _), (e2, _) in zip(results[(m1, method)], results[(m2, method)]):
                rho.append(rank_agreement(e1.target_weights(e1.target), e2.target_weights(e1.target),
                                          among=e1.seen & e2.seen)["spearman"])
            print(f"{method.upper()} {m1} vs {m2} (same target class): mean Spearman {np.nanmean(rho):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
