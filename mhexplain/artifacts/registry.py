"""Finding and loading trained models from a models folder."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from mhexplain.artifacts.folder import MANIFEST, artifact_hash, read_json, read_manifest, verify_artifact
from mhexplain.artifacts.schema import CALIBRATION_SPEC, COMBINATION_SPEC
from mhexplain.classifiers.catalog import KINDS, MODEL_NAMES, combines
from mhexplain.classifiers.combined import CASCADE, COMBINATION_FILE, ENSEMBLE
from mhexplain.core.classifier import Classifier
from mhexplain.core.errors import ArtifactError, DataError, train_command
from mhexplain.trust.calibration import CALIBRATION_FILE, Calibrated, Calibration
from mhexplain.trust.shortcuts import MASKING_FILE, MaskedInput, load_mask


@dataclass
class ModelInfo:
    name: str
    path: Path
    manifest: dict | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def discover(models_dir: Path) -> list[ModelInfo]:
    """Every known model name with its folder's status (missing / broken / ok)."""
    out = []
    for name in MODEL_NAMES:
        path = Path(models_dir) / name
        if not path.exists():
            out.append(ModelInfo(name, path, None, "not trained"))
            continue
        try:
            manifest = _named_manifest(path, name)
            if KINDS[manifest["kind"]].combines:  # a member retrained since makes it unusable: say so here
                problem = members_problem(path, read_combination(path, manifest))
                if problem:
                    raise ArtifactError(problem)
            out.append(ModelInfo(name, path, manifest))
        except ArtifactError as err:
            out.append(ModelInfo(name, path, None, str(err)))
    return out


def select_models(models_dir: Path, names=None) -> list[ModelInfo]:
    """The folder's trained models, or the ``names`` asked for (``--models``: the one way every
    command reads it). A name that is not trained there, or not a model at all, is refused in one
    line naming the command that trains it. A trained folder that cannot be used is returned with
    its ``error``: the caller says what it does without it."""
    if names is not None:
        names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
        if not names:
            raise DataError(f"--models names no model; the models are {', '.join(MODEL_NAMES)}.")
    infos = discover(Path(models_dir))
    found = [m for m in infos if m.path.exists() and (names is None or m.name in names)]
    missing = [n for n in names or [] if n not in {m.name for m in found}]
    unknown = [n for n in missing if n not in MODEL_NAMES]
    if unknown:
        raise DataError(f"--models: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a model name; "
                        f"the models are {', '.join(MODEL_NAMES)}.")
    made = [n for n in missing if combines(n)]
    if made:
        raise DataError(f"No {', '.join(made)} in {models_dir}; build {'it' if len(made) == 1 else 'them'} from "
                        f"trained members with: " + "; ".join(build_command(models_dir, n) for n in made))
    if missing or not found:
        which = f" {', '.join(missing)}" if missing else ""
        raise DataError(f"No trained model{which} in {models_dir}; train with: {train_command(models_dir, missing)}")
    return found


def load_models(models_dir: Path, names=None) -> dict[str, Classifier]:
    """The folder's trained models (or the ``names`` asked for), loaded; a model folder that
    cannot be used is refused in one line naming its problem, rather than left out unsaid."""
    found = select_models(models_dir, names)
    for m in found:
        if not m.ok:
            raise DataError(f"{m.error} (--models can leave {m.name} out)")
    return {m.name: load_classifier(m.path) for m in found}


def read_calibration(model_dir: Path) -> Calibration:
    """The calibration saved in a model folder, held to ``schema.CALIBRATION_SPEC`` (one line
    naming the file and the field when it does not fit)."""
    return Calibration.from_dict(read_json(Path(model_dir), CALIBRATION_FILE, CALIBRATION_SPEC))


def _named_manifest(path: Path, name: str) -> dict:
    """The manifest of the folder that holds model ``name``: the pages key every table by the name
    a manifest gives, so a folder copied under another model's name would collide with it."""
    manifest = read_manifest(path)
    if manifest["name"] != name:
        raise ArtifactError(f"{path / MANIFEST} describes the model {manifest['name']!r}, not {name!r} (its "
                            "folder's name); move it back or retrain this model.")
    return manifest


def load_classifier(model_dir: Path) -> Classifier:
    """The model of a checked folder, loaded by its kind's loader (``classifiers.catalog``) and
    wrapped: masked where it was trained so, and always calibrated."""
    model_dir = Path(model_dir)
    manifest = verify_artifact(model_dir)
    kind = KINDS[manifest["kind"]]
    if kind.combines:
        combination = read_combination(model_dir, manifest)
        clf = kind.loader(manifest, load_members(model_dir, manifest, combination), combination)
    else:
        clf = kind.loader(model_dir, manifest)
    if manifest.get("masking") and MASKING_FILE not in manifest["files"]:
        raise ArtifactError(f"{model_dir / MANIFEST} records training with masked words but does not list "
                            f"{MASKING_FILE}; retrain this model.")
    if MASKING_FILE in manifest["files"]:  # trained with --mask-words: the same words are deleted at inference
        clf = MaskedInput(clf, load_mask(model_dir))  # held to the limits of a user's word list
    clf = Calibrated(clf, read_calibration(model_dir))
    clf.fingerprint = artifact_hash(model_dir)  # keys the explanation cache
    return clf


def read_combination(model_dir: Path, manifest: dict) -> dict:
    """A cascade's or an ensemble's ``combination.json`` (its folder's ``manifest`` read already),
    checked against ``schema.COMBINATION_SPEC`` and the kind the manifest names."""
    path = Path(model_dir) / COMBINATION_FILE
    combination = read_json(Path(model_dir), COMBINATION_FILE, COMBINATION_SPEC)
    names = [m["name"] for m in combination["members"]]
    if len(names) < 2 or len(set(names)) != len(names) or any(n not in MODEL_NAMES or combines(n) for n in names):
        raise ArtifactError(f"{path}: its members must be two or more different models that are not combinations "
                            "themselves.")
    method = combination["method"]
    fits = {CASCADE: len(names) == 2 and "route_below" in combination,
            ENSEMBLE: len(combination.get("weights") or ()) == len(names) and sum(combination["weights"]) > 0}
    if not fits.get(method, False) or method != manifest["kind"]:
        raise ArtifactError(f"{path} does not describe a {manifest['kind']} (a cascade has two "
                            "members and a routing threshold, an ensemble a weight per member); retrain this model.")
    return combination


def build_command(models_dir: Path, name: str, members=None, options: str = "") -> str:
    """The command that builds combination ``name`` in ``models_dir`` from ``members`` (by default
    FIRST,SECOND, to be filled in)."""
    listed = ",".join(members) if members else "FIRST,SECOND"
    return (f"python -m train --out {shlex.quote(str(models_dir))} --models {name} --{name}-members "
            f"{listed}{options}")


def rebuild_command(model_dir: Path, combination: dict) -> str:
    """The command that builds this cascade or ensemble again from its members as they are now,
    with the goal it was built for."""
    model_dir = Path(model_dir)
    options = ""
    if combination.get("tolerance") is not None:
        options = f" --cascade-tolerance {combination['tolerance']:g}"
    if combination.get("confidence") is not None:
        options += f" --cascade-confidence {combination['confidence']:g}"
    if combination.get("weights_from"):
        options += f" --ensemble-weights {combination['weights_from']}"
    return build_command(model_dir.parent, model_dir.name, [m["name"] for m in combination["members"]], options)


def members_problem(model_dir: Path, combination: dict) -> str | None:
    """Why a combination's members cannot be used (one is missing, or was retrained or changed
    since the combination was built from it), with the command that rebuilds it; None if they can."""
    model_dir = Path(model_dir)
    for member in combination["members"]:
        path = model_dir.parent / member["name"]
        if not path.is_dir():
            return (f"{model_dir.name} is built from {member['name']}, which is not in {model_dir.parent}; train it, "
                    f"then rebuild with: {rebuild_command(model_dir, combination)}")
        if artifact_hash(path) != member["artifact_sha256"]:
            return (f"{member['name']} has been retrained or changed since {model_dir.name} was built from it; "
                    f"rebuild with: {rebuild_command(model_dir, combination)}")
    return None


def load_members(model_dir: Path, manifest: dict, combination: dict) -> dict[str, Classifier]:
    """The members a combination was built from, each loaded from the same models folder and
    refused in one line when it is missing, is no longer the folder it was built from, is itself
    a combination or has other classes."""
    model_dir = Path(model_dir)
    problem = members_problem(model_dir, combination)
    if problem:
        raise ArtifactError(problem)
    members = {}
    for member in combination["members"]:
        path = model_dir.parent / member["name"]
        theirs = read_manifest(path)
        if KINDS[theirs["kind"]].combines or theirs["labels"] != manifest["labels"]:
            raise ArtifactError(f"{path} is not a model {model_dir.name} can be made of (it is a combination itself, "
                                "or has other classes); retrain it.")
        members[member["name"]] = load_classifier(path)
    return members
