"""Models made of other models: the cascade and the ensemble.

Both take their members as loaded Classifiers (``artifacts.registry`` loads them from the same
models folder and checks that each is the one the combination was built from) and the numbers
chosen for them on held-out training-split posts (``training.combined``). Each member is already
calibrated, so the combination works on calibrated probabilities.

- ``Cascade``: the first member answers a post when its confidence reaches ``route_below``; the
  rest go to the second member. A post's answer is then one member's, so its explanation is that
  member's (``answering``), and each prediction can say who gave it (``predict_routed``).
- ``Ensemble``: the weighted mean of the members' probabilities (recalibrated as a whole by the
  ``Calibrated`` wrapper around it). It sees a word when any member sees it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mhexplain.core import classifier
from mhexplain.core.classifier import Classifier, validate_texts

CASCADE, ENSEMBLE = "cascade", "ensemble"
COMBINATION_FILE = "combination.json"


def _shared(members: Sequence[Classifier], labels: Sequence[str]) -> None:
    for m in members:
        if tuple(m.labels) != tuple(labels):
            raise ValueError(f"member {m.name} has the classes {', '.join(m.labels)}, not {', '.join(labels)}")


class Cascade:
    """The first member answers when it is sure enough; otherwise the second does."""

    def __init__(self, name: str, labels: Sequence[str], members: Sequence[Classifier], route_below: float) -> None:
        if len(members) != 2:
            raise ValueError(f"a cascade has two members, not {len(members)}")
        _shared(members, labels)
        self.name, self.labels = name, tuple(labels)
        self.members = tuple(members)
        self.route_below = float(route_below)
        self.batch_size = min(m.batch_size for m in members)
        self.explain_budget = min(classifier.explain_budget(m) for m in members)

    def routed(self, first_proba: np.ndarray) -> np.ndarray:
        """Which posts go to the second member, given the first member's probabilities."""
        return np.asarray(first_proba).max(axis=1) < self.route_below

    def predict_routed(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Each post's probabilities and the name of the member that gave them; the second member
        reads only the posts routed to it."""
        texts = validate_texts(texts, allow_empty=True)
        first, second = self.members
        proba = np.array(first.predict_proba(texts), dtype=float)
        routed = self.routed(proba) if len(texts) else np.zeros(0, dtype=bool)
        if routed.any():
            proba[routed] = second.predict_proba([t for t, r in zip(texts, routed) if r])
        return proba, [second.name if r else first.name for r in routed]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_routed(texts)[0]

    def answering(self, text: str) -> Classifier:
        """The member whose prediction the cascade gives for ``text``."""
        first, second = self.members
        return second if self.routed(first.predict_proba([text]))[0] else first


class Ensemble:
    """The weighted mean of the members' (calibrated) probabilities."""

    def __init__(self, name: str, labels: Sequence[str], members: Sequence[Classifier],
                 weights: Sequence[float]) -> None:
        if len(members) < 2 or len(weights) != len(members):
            raise ValueError(f"an ensemble has at least two members and a weight each ({len(members)} members, "
                             f"{len(weights)} weights)")
        _shared(members, labels)
        w = np.asarray(weights, dtype=float)
        if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
            raise ValueError("an ensemble's weights are non-negative numbers that do not all vanish")
        self.name, self.labels = name, tuple(labels)
        self.members = tuple(members)
        self.weights = w / w.sum()
        self.batch_size = min(m.batch_size for m in members)
        self.explain_budget = min(classifier.explain_budget(m) for m in members)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = validate_texts(texts, allow_empty=True)
        out = np.zeros((len(texts), len(self.labels)))
        for m, w in zip(self.members, self.weights):
            if w > 0:  # a member weighted 0 is not asked at all
                out += w * np.asarray(m.predict_proba(texts), dtype=float)
        return out

    def visible_units(self, text: str, spans) -> np.ndarray:
        """A word is seen when a member with weight sees it."""
        seen = np.zeros(len(spans), dtype=bool)
        for m, w in zip(self.members, self.weights):
            if w > 0:
                seen |= classifier.visible_units(m, text, spans)
        return seen


def load_cascade(manifest: dict, members: dict[str, Classifier], combination: dict) -> Cascade:
    """The cascade of a checked folder: ``members`` loaded in ``combination``'s order."""
    return Cascade(manifest["name"], manifest["labels"], [members[m["name"]] for m in combination["members"]],
                   combination["route_below"])


def load_ensemble(manifest: dict, members: dict[str, Classifier], combination: dict) -> Ensemble:
    return Ensemble(manifest["name"], manifest["labels"], [members[m["name"]] for m in combination["members"]],
                    combination["weights"])
