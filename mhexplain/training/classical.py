"""Naive Bayes and grid-searched Logistic Regression on TF-IDF of NLTK-preprocessed text."""
from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from joblib import parallel_backend
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from mhexplain.classifiers.catalog import models_of
from mhexplain.classifiers.steps import CLASSIFIER_STEP, PREPROCESS_STEP, TFIDF_STEP
from mhexplain.core.classifier import full_proba
from mhexplain.evaluation.metrics import classification_metrics, macro_f1
from mhexplain.preprocess import NltkPreprocessor, default_cache_dir, preprocess_many
from mhexplain.training.common import (
    TQDM_DISABLE,
    Prepared,
    Progress,
    base_manifest,
    coder_agreement,
    model_mask,
    prepare,
    stage,
    write_skops_model,
)
from mhexplain.training.config import TrainConfig
from mhexplain.trust.calibration import Calibration, abstention_report, calibration_metrics, scale

logger = logging.getLogger("mhexplain.train")

MAX_FEATURES = 5000
LR_C_GRID = (0.01, 0.1, 1, 10)
LR_SOLVERS = ("liblinear", "saga")
CV_FOLDS = 5


def preprocess_split(prep: Prepared, cfg: TrainConfig) -> tuple[list[str], list[str]]:
    cache = cfg.cache_dir or default_cache_dir()
    texts = prep.split.corpus.texts
    mask = model_mask(cfg, prep.labels)
    if mask is not None:
        texts = [mask.delete(t) for t in texts]
    with tqdm(total=len(texts), desc="NLTK preprocessing", unit="post", leave=False,
              disable=TQDM_DISABLE) as bar:
        done = preprocess_many(texts, n_jobs=cfg.n_jobs, cache_dir=cache, progress=bar.update)
    tr = [done[i] for i in prep.split.train_idx]
    te = [done[i] for i in prep.split.test_idx]
    return tr, te


def _lr_grid(n_jobs: int, seed: int) -> GridSearchCV:
    # Current scikit-learn's liblinear is binary-only; one-vs-rest is what it did for
    # multiclass in the notebook's scikit-learn, and it is what wins the reference CV.
    grid = [
        {"clf": [OneVsRestClassifier(LogisticRegression(solver="liblinear", random_state=seed))],
         "clf__estimator__C": list(LR_C_GRID)},
        {"clf": [LogisticRegression(solver="saga", random_state=seed)], "clf__C": list(LR_C_GRID)},
    ]
    return GridSearchCV(Pipeline([("clf", LogisticRegression())]), grid, scoring="f1_macro",
                        cv=StratifiedKFold(CV_FOLDS), n_jobs=n_jobs, refit=True)


def _grid_table(gs: GridSearchCV) -> list[dict]:
    rows = []
    res = gs.cv_results_
    for i, params in enumerate(res["params"]):
        est = params["clf"]
        solver = est.estimator.solver if isinstance(est, OneVsRestClassifier) else est.solver
        C = params.get("clf__estimator__C", params.get("clf__C"))
        rows.append({"solver": solver + ("-ovr" if isinstance(est, OneVsRestClassifier) else ""),
                     "C": C, "cv_macro_f1_mean": float(res["mean_test_score"][i]),
                     "cv_macro_f1_std": float(res["std_test_score"][i]), "rank": int(res["rank_test_score"][i])})
    return rows


def top_terms(docs, max_features: int = MAX_FEATURES) -> list[str]:
    """The ``max_features`` most frequent terms, as ``TfidfVectorizer(max_features=...)`` chooses
    them, except that terms tied in frequency are taken in alphabetical order.

    scikit-learn ranks the terms with numpy's unstable argsort, and which of the tied terms it keeps
    depends on the CPU's instruction set (AVX2 and AVX-512 machines keep different ones among the
    hundreds tied at the cut-off), so the same data gave a different model, and a different score,
    on another machine. A stable sort over the alphabetical vocabulary fixes the choice everywhere.
    """
    counts = CountVectorizer()
    X = counts.fit_transform(docs)
    names = counts.get_feature_names_out()  # alphabetical
    if len(names) <= max_features:
        return names.tolist()
    tfs = np.asarray(X.sum(axis=0)).ravel()
    keep = np.sort(np.argsort(-tfs, kind="stable")[:max_features])
    return names[keep].tolist()


def fit_models(names, Xtr, ytr, n_jobs: int, seed: int) -> dict[str, dict]:
    """Fit the TF-IDF + classifier part on preprocessed text. Returns name -> {tfidf, clf, extra}."""
    tfidf = TfidfVectorizer(vocabulary=top_terms(Xtr))  # top_terms applies MAX_FEATURES
    A = tfidf.fit_transform(Xtr)
    # Plain ints: skops stores each numpy scalar as its own file, which makes saving 20x slower.
    tfidf.vocabulary_ = {k: int(v) for k, v in tfidf.vocabulary_.items()}
    # Canonical CSR up front: scikit-learn otherwise dedupes the shared matrix in place, which
    # races under the threading backend used for the grid below.
    A.sum_duplicates()
    A.sort_indices()
    out = {}
    if "nb" in names:
        t0 = time.perf_counter()
        out["nb"] = {"tfidf": tfidf, "clf": MultinomialNB().fit(A, ytr), "extra": {},
                     "params": {"max_features": MAX_FEATURES, "classifier": "MultinomialNB()"},
                     "seconds": time.perf_counter() - t0}
    if "lr" in names:
        t0 = time.perf_counter()
        gs = _lr_grid(n_jobs, seed)
        # Threads, not processes: each fit takes ~50 ms and liblinear/saga release the GIL, so
        # starting worker processes would cost more than the grid itself.
        with warnings.catch_warnings(), parallel_backend("threading", n_jobs=n_jobs):
            # saga at small C converges slowly; the grid records its score either way.
            warnings.simplefilter("ignore", ConvergenceWarning)
            gs.fit(A, ytr)
        best = gs.best_estimator_.named_steps["clf"]
        table = _grid_table(gs)
        winner = next(r for r in table if r["rank"] == 1)
        out["lr"] = {"tfidf": tfidf, "clf": best, "extra": {"grid": table, "best": winner},
                     "params": {"max_features": MAX_FEATURES, "grid_C": list(LR_C_GRID),
                                "grid_solvers": list(LR_SOLVERS), "penalty": "l2", "cv_folds": CV_FOLDS,
                                "scoring": "f1_macro", "best": {"solver": winner["solver"], "C": winner["C"]}},
                     "seconds": time.perf_counter() - t0}
    return out


def calibrate(fitted: dict, Xtr, ytr, seed: int, n_labels: int) -> tuple[Calibration, np.ndarray]:
    """Temperature and abstention threshold from out-of-fold probabilities of the training split
    (the same classifier refitted on each of CV_FOLDS folds): the test set is never used. Returns
    the out-of-fold probabilities too (the folder's ``validation.csv``)."""
    A = fitted["tfidf"].transform(Xtr)
    oof = cross_val_predict(clone(fitted["clf"]), A, ytr, cv=StratifiedKFold(CV_FOLDS, shuffle=True,
                                                                               random_state=seed),
                            method="predict_proba")
    oof = full_proba(oof, np.unique(ytr), n_labels)
    return Calibration.fit(oof, ytr, f"{CV_FOLDS}-fold out-of-fold predictions on the training split"), oof


def _proba(fitted: dict, X, n_labels: int) -> np.ndarray:
    clf = fitted["clf"]
    return full_proba(clf.predict_proba(fitted["tfidf"].transform(X)), clf.classes_, n_labels)


def seed_repeats(cfg: TrainConfig, prep: Prepared, names) -> dict[str, dict]:
    """Macro-F1 of each model over ``cfg.repeats`` split seeds (seed, seed+1, ...)."""
    seeds = [cfg.seed + k for k in range(cfg.repeats)]
    scores: dict[str, list[float]] = {n: [] for n in names}
    for s in tqdm(seeds, desc="split-seed repeats", leave=False, disable=TQDM_DISABLE):
        p = prepare(cfg, seed=s, dataset=prep.dataset, data_sha256=prep.data_sha256, test_sha256=prep.test_sha256)
        Xtr, Xte = preprocess_split(p, cfg)
        fitted = fit_models(names, Xtr, p.split.train["target"].to_numpy(), cfg.n_jobs, s)
        for n in names:
            pred = _proba(fitted[n], Xte, len(prep.labels)).argmax(1)
            scores[n].append(macro_f1(p.split.test["target"].to_numpy(), pred, len(prep.labels)))
    return {n: {"seeds": seeds, "macro_f1": v, "mean": float(np.mean(v)),
                "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0} for n, v in scores.items()}


def stages(cfg: TrainConfig) -> list[str]:
    """The stages ``train`` reports to its progress callback, in order."""
    names = models_of("sklearn", cfg.models)
    return ["preprocessing", "fitting"] + (["repeats"] if cfg.repeats > 1 else []) + [f"saving {m}" for m in names]


def train(cfg: TrainConfig, prep: Prepared, progress: Progress | None = None) -> dict[str, dict]:
    """Fit every scikit-learn model of ``cfg.models`` on the split's training posts, calibrate, save."""
    names = models_of("sklearn", cfg.models)
    t_all = time.perf_counter()
    with stage("preprocessing (NLTK)", progress, "preprocessing"):
        Xtr, Xte = preprocess_split(prep, cfg)
    train, test = prep.split.train, prep.split.test
    with stage(f"fitting {', '.join(names)}", progress, "fitting"):
        fitted = fit_models(names, Xtr, train["target"].to_numpy(), cfg.n_jobs, cfg.seed)
    repeats = None
    if cfg.repeats > 1:
        with stage(f"re-running over {cfg.repeats} split seeds", progress, "repeats"):
            repeats = seed_repeats(cfg, prep, names)
    results = {}
    for name in names:
        if progress is not None:
            progress(f"saving {name}")
        f = fitted[name]
        mask = model_mask(cfg, prep.labels)
        t_cal = time.perf_counter()
        cal, oof = calibrate(f, Xtr, train["target"].to_numpy(), cfg.seed, len(prep.labels))
        f["params"]["calibration_seconds"] = round(time.perf_counter() - t_cal, 3)
        raw = _proba(f, Xte, len(prep.labels))
        proba = scale(raw, cal.temperature)
        metrics = classification_metrics(test["target"].to_numpy(), proba, prep.labels)
        metrics.update({"model": name, "protocol": prep.split.protocol,
                        "train_test_overlap": prep.split.train_test_overlap, **f["extra"],
                        **calibration_metrics(raw, proba, test["target"].to_numpy(), cfg.seed),
                        "abstention": abstention_report(cal, proba, test["target"].to_numpy())})
        metrics.update(coder_agreement(prep, name, proba))
        if repeats:
            metrics["seed_repeats"] = repeats[name]
        pipeline = Pipeline([(PREPROCESS_STEP, NltkPreprocessor()), (TFIDF_STEP, f["tfidf"]),
                             (CLASSIFIER_STEP, f["clf"])])
        manifest = base_manifest(cfg, prep, "sklearn", f["params"], time.perf_counter() - t_all)
        write_skops_model(cfg, prep, name, pipeline, cal, mask, manifest, metrics, proba, raw, oof)
        results[name] = metrics
    return results
