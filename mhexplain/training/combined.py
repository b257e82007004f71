"""Building a cascade and an ensemble (``classifiers.combined``) from trained models of one folder.

Nothing here reads the data: a combination is built from its members' folders. Each member keeps
held-out predictions on training-split posts (``validation.csv``: out-of-fold for the scikit-learn
models, the validation slice for BERT), and the posts every member holds out choose the cascade's
routing threshold and the ensemble's weights and calibration. The test posts choose nothing: the
combination is scored on them from the members' saved test predictions, exactly as its loaded
model predicts them (the members are deterministic), and each member's speed is measured here.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mhexplain.artifacts.folder import (
    VALIDATION,
    artifact_hash,
    library_versions,
    now_iso,
    predictions_frame,
    proba_column,
    read_manifest,
    read_predictions,
    read_validation,
    verify_artifact,
    write_artifact,
)
from mhexplain.artifacts.registry import load_classifier, read_calibration
from mhexplain.classifiers.combined import CASCADE, COMBINATION_FILE, ENSEMBLE, Cascade, Ensemble
from mhexplain.core.errors import ConfigError, DataError
from mhexplain.core.labels import common_labels
from mhexplain.evaluation.combined import posts_per_second
from mhexplain.evaluation.metrics import classification_metrics, macro_f1, resample_weights, resampled_macro_f1
from mhexplain.training.common import Progress, stage
from mhexplain.training.config import TrainConfig
from mhexplain.trust.calibration import (
    Calibration,
    abstention_report,
    calibration_metrics,
    nll,
    scale,
)

logger = logging.getLogger("mhexplain.train")

# Fewer held-out posts than this shared by every member choose nothing worth keeping.
MIN_HELD_OUT = 50
ROUTING_STEPS = 1000  # thresholds tried at most: routed shares 0.1% apart
RESAMPLES = 200  # bootstrap resamples of the held-out posts that the routing threshold must hold on
CURVE_POINTS = 41  # the cascade's curve: shares routed 0%, 2.5%, ..., 100% of the held-out posts
WEIGHT_STEPS = {2: 20, 3: 10, 4: 10}  # the ensemble's weight grid: steps of 1/20 for two members
SPEED_POSTS = 200  # test posts each model is timed on


@dataclass
class Member:
    """A trained member as the combination reads it: its folder, and calibrated predictions."""

    name: str
    path: Path
    manifest: dict
    digest: str
    held_out: pd.DataFrame  # indexed by post_id: true_label, then a calibrated probability per class
    test: pd.DataFrame  # its predictions.csv

    def held_out_proba(self, ids: np.ndarray) -> np.ndarray:
        return self.held_out.loc[ids].iloc[:, 1:].to_numpy(dtype=float)

    def test_proba(self) -> np.ndarray:
        return self.test[[proba_column(lab) for lab in self.manifest["labels"]]].to_numpy(dtype=float)


def member_names(cfg: TrainConfig, method: str) -> tuple[str, ...]:
    return cfg.combine.cascade_members if method == CASCADE else cfg.combine.ensemble_members


def member_folder(cfg: TrainConfig, name: str) -> Path:
    """Where member ``name`` is: trained by this run (in its staging folder) or before it."""
    staged = Path(cfg.out) / name
    return staged if staged.is_dir() or cfg.models_dir is None else Path(cfg.models_dir) / name


def check_members(cfg: TrainConfig, method: str, data_sha256: str | None = None) -> None:
    """Before any work: each member is trained by this run or is a folder of ``--out`` that keeps
    held-out predictions, and one this run does not train was trained on the split this run
    makes (``data_sha256``: the data's, when known); one line naming what is missing otherwise."""
    trains_one = any(n in cfg.models for n in member_names(cfg, method))
    for name in member_names(cfg, method):
        if name in cfg.models:
            continue
        path = Path(cfg.out) / name
        if not path.is_dir():
            raise ConfigError(f"the {method}'s member {name} is not trained in {cfg.out}: add it to --models, or "
                              f"choose other members with --{method}-members")
        manifest = read_manifest(path)
        if VALIDATION not in manifest["files"]:
            raise ConfigError(f"{path} keeps no held-out predictions (it was trained before they were kept), so the "
                              f"{method} cannot be built on it: retrain {name} (add it to --models)")
        run = {"data": data_sha256, "split seed": cfg.seed, "protocol": cfg.protocol, "--limit": cfg.limit}
        differs = [k for k, v in split_of(manifest).items() if k in run and run[k] is not None and run[k] != v]
        differs += ["--limit"] * (cfg.limit is None and manifest["data"].get("limit") is not None)
        if trains_one and differs:
            raise ConfigError(f"{name} in {cfg.out} was trained on another split ({differs[0]} differs) than this run "
                              f"makes, so the {method} could not combine it: train it in this run too (add it to "
                              "--models), or train with its settings")


def split_of(manifest: dict) -> dict:
    """What makes two models' splits the same, by the words a message names it with."""
    data, split = manifest["data"], manifest["split"]
    return {"data": data["sha256"], "test file": data.get("test_sha256"), "split seed": split["seed"],
            "protocol": split["protocol"], "--limit": data.get("limit"), "test posts": split["test_post_ids_sha256"]}


def read_member(cfg: TrainConfig, name: str) -> Member:
    path = member_folder(cfg, name)
    manifest = verify_artifact(path)
    held_out = read_validation(path, manifest)
    if held_out is None:
        raise DataError(f"{path} keeps no held-out predictions; retrain {name}.")
    held_out = held_out.set_index("post_id")
    temperature = read_calibration(path).temperature
    held_out.iloc[:, 1:] = scale(held_out.iloc[:, 1:].to_numpy(dtype=float), temperature)
    return Member(name, path, manifest, artifact_hash(path), held_out, read_predictions(path))


def check_same_split(members: list[Member]) -> None:
    """Members must share the labels, the data and the test posts: one split, so the combination's
    test posts are every member's and none of them was a training post of another."""
    common_labels({m.name: m.manifest["labels"] for m in members}, "combine")
    first = members[0]
    for m in members[1:]:
        ours, theirs = split_of(first.manifest), split_of(m.manifest)
        differs = [k for k in ours if ours[k] != theirs[k]]
        if differs:
            raise DataError(f"{first.name} and {m.name} were trained on different splits ({differs[0]} differs): a "
                            "combination needs members trained on one split of one file (the same --data, "
                            "--protocol, --seed and --limit).")
        if not first.test["post_id"].equals(m.test["post_id"]):
            raise DataError(f"{first.name} and {m.name} hold different test posts; retrain them on one split.")


def shared_held_out(members: list[Member]) -> tuple[np.ndarray, np.ndarray]:
    """The post ids every member held out, and their labels."""
    ids = set(members[0].held_out.index)
    for m in members[1:]:
        ids &= set(m.held_out.index)
    ids = np.array(sorted(ids), dtype=int)
    if set(ids) & set(members[0].test["post_id"]):  # only a damaged or edited file can do this
        raise DataError(f"{members[0].name}'s held-out posts include test posts; retrain the members.")
    labels = [m.held_out.loc[ids, "true_label"].to_numpy(dtype=int) for m in members]
    if any((lab != labels[0]).any() for lab in labels[1:]):
        raise DataError("the members' held-out posts carry different labels; retrain the members on one split.")
    if len(ids) < MIN_HELD_OUT:
        raise DataError(f"the members share {len(ids)} held-out training posts; at least {MIN_HELD_OUT} are needed "
                        "to choose how to combine them (train on more posts, or raise BERT's --val-fraction).")
    return ids, labels[0]


def cascade_answers(first: np.ndarray, second: np.ndarray, route_below: float) -> tuple[np.ndarray, np.ndarray]:
    """The cascade's probabilities from its members' (calibrated) ones, and which posts it routed."""
    routed = first.max(axis=1) < route_below
    return np.where(routed[:, None], second, first), routed


def routing_candidates(first: np.ndarray) -> np.ndarray:
    """The thresholds tried: 0 (none routed), the confidences seen (the posts below each; at most
    ROUTING_STEPS of them, evenly spaced in rank, so the search stays linear in the posts), and 1
    (all but those at exactly 1)."""
    conf = np.sort(first.max(axis=1))
    if len(conf) > ROUTING_STEPS:
        conf = conf[np.linspace(0, len(conf) - 1, ROUTING_STEPS).round().astype(int)]
    return np.unique(np.concatenate([[0.0], conf, [1.0]]))


def choose_route_below(val: list[np.ndarray], y: np.ndarray, n_labels: int, tolerance: float, confidence: float,
                       seed: int) -> tuple[float, dict]:
    """The threshold that routes the fewest held-out posts while their macro-F1 stays within
    ``tolerance`` of the second member's alone in at least ``confidence`` of the bootstrap
    resamples of those posts (paired: every threshold is scored on the same resamples); the most
    likely one when none does. Without the resamples, the first threshold whose macro-F1 crosses
    the line on a few hundred posts is mostly noise: the first cascade built so (LR then BERT,
    376 held-out posts) routed 4% of the test posts and lost 0.024 to BERT there."""
    weights = resample_weights(len(y), RESAMPLES, seed)
    alone = resampled_macro_f1(weights, y, val[1].argmax(1), n_labels)
    second = macro_f1(y, val[1].argmax(1), n_labels)
    best = None
    for t in routing_candidates(val[0]):  # rising: the share routed never falls
        p, routed = cascade_answers(val[0], val[1], t)
        kept = float((resampled_macro_f1(weights, y, p.argmax(1), n_labels) >= alone - tolerance).mean())
        found = {"second_alone": second, "macro_f1": macro_f1(y, p.argmax(1), n_labels),
                 "share_routed": float(routed.mean()), "resamples_within_tolerance": kept,
                 "resamples": RESAMPLES, "goal_met": kept >= confidence}
        if kept >= confidence:
            return float(t), found
        if best is None or kept > best[1]["resamples_within_tolerance"]:
            best = (float(t), found)
    return best


def cascade_curve(val: list[np.ndarray], y: np.ndarray, test: list[np.ndarray], y_test: np.ndarray,
                  n_labels: int, route_below: float) -> tuple[list[dict], dict]:
    """Share routed against macro-F1 on the test posts, at thresholds that route 0%, 2.5%, ...,
    100% of the held-out posts, and at the chosen one."""
    conf = np.sort(val[0].max(axis=1))
    inner = [conf[min(len(conf) - 1, int(round(q * len(conf))))] for q in np.linspace(0, 1, CURVE_POINTS)[1:-1]]

    def point(t: float) -> dict:
        pv, rv = cascade_answers(val[0], val[1], t)
        pt, rt = cascade_answers(test[0], test[1], t)
        return {"route_below": float(t), "share_routed": float(rt.mean()),
                "macro_f1": macro_f1(y_test, pt.argmax(1), n_labels),
                "validation_share_routed": float(rv.mean()), "validation_macro_f1": macro_f1(y, pv.argmax(1), n_labels)}

    thresholds = sorted({0.0, 1.0, *map(float, inner)})
    return [point(t) for t in thresholds], point(route_below)


def weight_grid(k: int) -> np.ndarray:
    """Every weighting of ``k`` members in steps of 1/WEIGHT_STEPS[k], the equal one first."""
    steps = WEIGHT_STEPS[k]
    grid = [c for c in itertools.product(range(steps + 1), repeat=k - 1) if sum(c) <= steps]
    weights = np.array([list(c) + [steps - sum(c)] for c in grid], dtype=float) / steps
    return np.vstack([np.full(k, 1 / k), weights])


def choose_weights(val: list[np.ndarray], y: np.ndarray, how: str) -> np.ndarray:
    """Equal weights, or those of the grid whose mean of the held-out probabilities has the lowest
    log-loss (the first of equals, so equal weights win a tie)."""
    if how == "equal":
        return np.full(len(val), 1 / len(val))
    stacked = np.stack(val)
    losses = [nll(np.tensordot(w, stacked, axes=1), y) for w in weight_grid(len(val))]
    return weight_grid(len(val))[int(np.argmin(losses))]


def measure_speed(method: str, members: list[Member], built: dict, labels) -> dict:
    """Each member's and the combination's posts per second on the first test posts, here, with
    the members loaded from their folders as every command loads them."""
    texts = members[0].test["text"].astype(str).tolist()[:SPEED_POSTS]
    loaded = [load_classifier(m.path) for m in members]
    combo = (Cascade(method, labels, loaded, built["route_below"]) if method == CASCADE
             else Ensemble(method, labels, loaded, built["weights"]))
    speeds = {m.name: posts_per_second(clf, texts) for m, clf in zip(members, loaded)}
    speeds[method] = posts_per_second(combo, texts)
    return {"posts": len(texts), "machine": f"{platform.machine()}, {platform.system()}, {os.cpu_count()} cores",
            "posts_per_second": [{"model": k, "posts_per_second": round(v, 1)} for k, v in speeds.items()]}


def build(cfg: TrainConfig, method: str, members: list[Member]) -> tuple[dict, Calibration, dict, np.ndarray]:
    """What is chosen on the held-out posts (``combination.json``), the calibration, what the
    combination reports about itself, and its uncalibrated test probabilities."""
    n_labels = len(members[0].manifest["labels"])
    ids, y = shared_held_out(members)
    val = [m.held_out_proba(ids) for m in members]
    test = [m.test_proba() for m in members]
    y_test = members[0].test["true_label"].to_numpy(dtype=int)
    chosen_on = (f"{len(ids)} training-split posts every member held out (out-of-fold predictions, or BERT's "
                 "validation slice)")
    built = {"method": method, "members": [{"name": m.name, "artifact_sha256": m.digest} for m in members],
             "chosen_on": chosen_on}
    report = {"method": method, "members": [m.name for m in members], "held_out_posts": len(ids),
              "members_alone": [{"name": m.name, "macro_f1": macro_f1(y_test, pt.argmax(1), n_labels),
                                 "validation_macro_f1": macro_f1(y, pv.argmax(1), n_labels)}
                                for m, pt, pv in zip(members, test, val)]}
    if method == CASCADE:
        tol, conf = cfg.combine.cascade_tolerance, cfg.combine.cascade_confidence
        t, found = choose_route_below(val, y, n_labels, tol, conf, members[0].manifest["seed"])
        built |= {"route_below": t, "tolerance": tol, "confidence": conf,
                  "goal": f"route the fewest posts that keep macro-F1 within {tol:g} of {members[1].name} alone in "
                          f"{conf:.0%} of {RESAMPLES} bootstrap resamples of the held-out posts"}
        report["curve"], report["operating_point"] = cascade_curve(val, y, test, y_test, n_labels, t)
        report["choice"] = found
        raw_val, raw_test = cascade_answers(val[0], val[1], t)[0], cascade_answers(test[0], test[1], t)[0]
        cal = Calibration.fit(raw_val, y, chosen_on, temperature=1.0)
    else:
        w = choose_weights(val, y, cfg.combine.ensemble_weights)
        built |= {"weights": [float(x) for x in w], "weights_from": cfg.combine.ensemble_weights,
                  "goal": "equal weights" if cfg.combine.ensemble_weights == "equal" else
                  "the weights whose mean probabilities have the lowest log-loss"}
        raw_val, raw_test = np.tensordot(w, np.stack(val), axes=1), np.tensordot(w, np.stack(test), axes=1)
        cal = Calibration.fit(raw_val, y, chosen_on)
    return built, cal, report, raw_test


def manifest_of(method: str, members: list[Member], built: dict, seconds: float) -> dict:
    """The manifest: the members' data, cleaning and split (one split, checked), the choice made."""
    first = members[0].manifest
    return {"masking": None, "kind": method, "labels": list(first["labels"]), "created": now_iso(),
            "train_seconds": round(seconds, 2), "data": first["data"], "cleaning": first["cleaning"],
            "split": first["split"], "seed": first["seed"],
            "params": {k: v for k, v in built.items() if k != "members"},
            "members": [{"name": m.name, "kind": m.manifest["kind"], "artifact_sha256": m.digest,
                         "created": m.manifest["created"]} for m in members],
            "versions": library_versions()}


def write(cfg: TrainConfig, method: str, members: list[Member], built: dict, cal: Calibration, metrics: dict,
          raw: np.ndarray, proba: np.ndarray, seconds: float) -> None:
    first = members[0]
    labels = first.manifest["labels"]
    manifest = manifest_of(method, members, built, seconds)
    manifest |= {"calibration": asdict(cal),
                 "metrics": {k: metrics[k] for k in ("accuracy", "macro_f1", "macro_f1_ci", "cohen_kappa", "ece")}}
    test = first.test
    preds = predictions_frame(test["post_id"], test["text"], test["true_label"], proba, labels, raw=raw,
                              has_train_copy=test["has_train_copy"] if "has_train_copy" in test else None)
    if method == CASCADE:  # who answered each test post
        routed = cascade_answers(first.test_proba(), members[1].test_proba(), built["route_below"])[1]
        preds["answered_by"] = np.where(routed, members[1].name, first.name)

    def write_model(d: Path) -> None:
        (d / COMBINATION_FILE).write_text(json.dumps(built, indent=2))
        cal.save(d)

    write_artifact(cfg.out, method, write_model, manifest, metrics, preds)


class CombinationTrainer:
    """The trainer of one combination kind (``classifiers.catalog`` names it)."""

    def __init__(self, method: str) -> None:
        self.method = method

    def stages(self, cfg: TrainConfig) -> list[str]:
        return [f"building {self.method}"]

    def train(self, cfg: TrainConfig, prep=None, progress: Progress | None = None) -> dict[str, dict]:
        """Build the combination from its members' folders (``prep``, the data, is not read); in
        a distributed run, by the first process alone, which alone wrote the members."""
        method = self.method
        if not cfg.first_process:
            return {}
        t0 = time.perf_counter()
        with stage(f"building the {method} of {', '.join(member_names(cfg, method))}", progress,
                   f"building {method}"):
            members = [read_member(cfg, n) for n in member_names(cfg, method)]
            check_same_split(members)
            built, cal, report, raw = build(cfg, method, members)
            proba = scale(raw, cal.temperature)
            metrics = test_metrics(method, members[0], cal, raw, proba)
            report["speed"] = measure_speed(method, members, built, members[0].manifest["labels"])
            metrics["combination"] = report
            write(cfg, method, members, built, cal, metrics, raw, proba, time.perf_counter() - t0)
        alone = ", ".join(f"{m['name']} {m['macro_f1']:.3f}" for m in report["members_alone"])
        speeds = ", ".join(f"{s['model']} {s['posts_per_second']:.0f}" for s in report["speed"]["posts_per_second"])
        logger.info("%s: macro-F1 %.3f [%.3f, %.3f]; alone %s; posts/s %s", method, metrics["macro_f1"],
                    *metrics["macro_f1_ci"], alone, speeds)
        return {method: metrics}


def test_metrics(method: str, first: Member, cal: Calibration, raw: np.ndarray, proba: np.ndarray) -> dict:
    """metrics.json on the members' test posts, as every model's."""
    y_test = first.test["true_label"].to_numpy(dtype=int)
    metrics = classification_metrics(y_test, proba, first.manifest["labels"])
    return metrics | {"model": method, "protocol": first.manifest["split"]["protocol"],
                      "train_test_overlap": first.manifest["split"]["train_test_overlap"],
                      **calibration_metrics(raw, proba, y_test, first.manifest["seed"]),
                      "abstention": abstention_report(cal, proba, y_test)}


CASCADE_TRAINER = CombinationTrainer(CASCADE)
ENSEMBLE_TRAINER = CombinationTrainer(ENSEMBLE)
