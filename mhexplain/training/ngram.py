"""The strong linear baseline (``ngram``): logistic regression on word and character n-gram
TF-IDF of the raw post (``classifiers.ngram``), C chosen by cross-validation.

One pass of stratified folds over the training split serves twice: each fold fits every C of
the grid and predicts its held-out posts; the C whose out-of-fold predictions score the best macro-F1 is
refitted on the whole split, and the same out-of-fold probabilities calibrate it. The test set
is never used for either. As for LR, the vocabulary and IDF are fitted on the whole training
split before the folds, so a held-out post's n-grams count in its own weights: its out-of-fold
probability is a little surer than a new post's would be.
"""
from __future__ import annotations

import logging
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from mhexplain.classifiers.catalog import models_of
from mhexplain.classifiers.ngram import CHAR_NGRAMS, FEATURES_STEP, MIN_DF, WORD_NGRAMS, build_pipeline
from mhexplain.classifiers.steps import CLASSIFIER_STEP
from mhexplain.core.classifier import full_proba
from mhexplain.evaluation.metrics import classification_metrics, macro_f1
from mhexplain.training.common import (
    Prepared,
    Progress,
    base_manifest,
    coder_agreement,
    model_mask,
    stage,
    write_skops_model,
)
from mhexplain.training.config import TrainConfig
from mhexplain.trust.calibration import Calibration, abstention_report, calibration_metrics, scale

logger = logging.getLogger("mhexplain.train")

C_GRID = (1.0, 3.0, 10.0)
CV_FOLDS = 5


def _fold(clf, A, y, fit, held, n_labels: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """One fold: every C of the grid fitted from scratch (a warm start from the last C barely
    moves at this tolerance, so every C would score as the first), its held-out probabilities."""
    out = []
    for C in C_GRID:
        model = clone(clf).set_params(C=C).fit(A[fit], y[fit])
        out.append(full_proba(model.predict_proba(A[held]), model.classes_, n_labels))
    return held, out


def choose_c(clf, A, y, n_labels: int, n_jobs: int, seed: int) -> tuple[float, np.ndarray, list[dict]]:
    """The C whose out-of-fold predictions score the best macro-F1, those predictions (for the
    calibration), and the grid's table."""
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    # threads: lbfgs spends its time in numpy, which releases the GIL; BLAS kept to one thread each,
    # so that no fit's sums depend on how many threads the machine's BLAS takes (and none compete)
    with threadpool_limits(1):
        done = Parallel(n_jobs=n_jobs, backend="threading")(delayed(_fold)(clf, A, y, fit, held, n_labels)
                                                            for fit, held in folds)
    oof = np.zeros((len(C_GRID), len(y), n_labels))
    for held, probas in done:
        for k, p in enumerate(probas):
            oof[k, held] = p
    scores = [macro_f1(y, oof[k].argmax(1), n_labels) for k in range(len(C_GRID))]
    best = int(np.argmax(scores))  # the smallest C among equal scores: the grid rises
    table = [{"C": C, "cv_macro_f1": float(s), "rank": int(sorted(scores, reverse=True).index(s)) + 1}
             for C, s in zip(C_GRID, scores)]
    return C_GRID[best], oof[best], table


def train(cfg: TrainConfig, prep: Prepared, progress: Progress | None = None) -> dict[str, dict]:
    """Fit the n-gram model on the split's training posts (as the models receive them), calibrate, save."""
    (name,) = models_of("ngram", cfg.models)
    t_all = time.perf_counter()
    n_labels = len(prep.labels)
    train_df, test_df = prep.split.train, prep.split.test
    mask = model_mask(cfg, prep.labels)
    texts_tr, texts_te = train_df["input"].tolist(), test_df["input"].tolist()
    if mask is not None:  # the saved model deletes the same words at inference (``MaskedInput``)
        texts_tr, texts_te = [mask.delete(t) for t in texts_tr], [mask.delete(t) for t in texts_te]
    ytr, yte = train_df["target"].to_numpy(), test_df["target"].to_numpy()
    pipeline = build_pipeline(C_GRID[0], cfg.seed)
    with stage("n-gram features", progress, "n-gram features"):
        features = pipeline.named_steps[FEATURES_STEP]
        A = features.fit_transform(texts_tr)
    with stage(f"choosing C over {len(C_GRID)} values by {CV_FOLDS}-fold cross-validation", progress, "n-gram C"):
        C, oof, grid = choose_c(pipeline.named_steps[CLASSIFIER_STEP], A, ytr, n_labels, cfg.n_jobs, cfg.seed)
        with threadpool_limits(1):
            pipeline.named_steps[CLASSIFIER_STEP].set_params(C=C).fit(A, ytr)
    if progress is not None:
        progress(f"saving {name}")
    cal = Calibration.fit(oof, ytr, f"{CV_FOLDS}-fold out-of-fold predictions on the training split")
    raw = full_proba(pipeline.predict_proba(texts_te), pipeline.classes_, n_labels)
    proba = scale(raw, cal.temperature)
    metrics = classification_metrics(yte, proba, prep.labels)
    metrics.update({"model": name, "protocol": prep.split.protocol, "train_test_overlap": prep.split.train_test_overlap,
                    "grid": grid, "best": {"C": C}, **calibration_metrics(raw, proba, yte, cfg.seed),
                    "abstention": abstention_report(cal, proba, yte)})
    metrics.update(coder_agreement(prep, name, proba))
    params = {"word_ngrams": list(WORD_NGRAMS), "char_ngrams": list(CHAR_NGRAMS), "char_analyzer": "char_wb",
              "min_df": MIN_DF, "sublinear_tf": True, "features": int(A.shape[1]), "grid_C": list(C_GRID),
              "cv_folds": CV_FOLDS, "scoring": "f1_macro", "best": {"C": C}, "solver": "lbfgs", "tol": 1e-3,
              "max_iter": 3000, "iterations": int(np.max(pipeline.named_steps[CLASSIFIER_STEP].n_iter_))}
    manifest = base_manifest(cfg, prep, "ngram", params, time.perf_counter() - t_all)
    write_skops_model(cfg, prep, name, pipeline, cal, mask, manifest, metrics, proba, raw, oof, f"; C={C:g}")
    return {name: metrics}


def stages(cfg: TrainConfig) -> list[str]:
    """The stages ``train`` reports to its progress callback, in order."""
    return ["n-gram features", "n-gram C"] + [f"saving {m}" for m in models_of("ngram", cfg.models)]
