"""The explanation result: serialisable to JSON and to escaped, self-contained HTML."""
from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Explanation:
    model: str
    method: str
    text: str  # the text that was explained (the post, or its first max_units units)
    spans: list[tuple[int, int]]
    weights: np.ndarray  # (n_units, n_classes): contribution of each unit toward each class
    base_value: np.ndarray  # (n_classes,) model output with every unit removed (LIME: intercept)
    proba: np.ndarray  # (n_classes,) predicted probabilities for ``text``
    labels: list[str]
    target: int
    budget: int
    n_evals: int
    seconds: float
    seed: int
    original_length: int  # characters in the post as given
    truncated: str | None = None  # how the post was shortened, if it was
    output_space: str = "probability"  # what ``weights`` add up to: probability or log-odds
    params: dict = field(default_factory=dict)  # method settings beyond budget and seed
    # per unit: does the model see it? An unseen unit is no feature of the explanation and weighs
    # exactly 0 (None: every unit is seen)
    visible: list[bool] | None = None
    faithfulness: dict = field(default_factory=dict)
    cached: bool = False
    # the model made of others (a cascade) whose answer to this post was ``model``'s: the
    # explanation is that member's, and says so
    answered_for: str | None = None

    @property
    def units(self) -> list[str]:
        return [self.text[a:b] for a, b in self.spans]

    @property
    def seen(self) -> np.ndarray:
        """Per unit, whether the model sees it."""
        return np.ones(len(self.spans), dtype=bool) if self.visible is None else np.asarray(self.visible, dtype=bool)

    @property
    def unseen_note(self) -> str | None:
        """What to tell a reader when the model sees none of the words."""
        if self.seen.any():
            return None
        return (f"{self.model} sees none of these words (it drops them before predicting), so none of them "
                f"moves its prediction: every weight is 0.")

    @property
    def member_note(self) -> str | None:
        """What to tell a reader when this explains a cascade's answer through the member that gave it."""
        if not self.answered_for:
            return None
        return (f"{self.answered_for} gives {self.model}'s answer to this post (the member that answered it): "
                f"this is {self.model}'s explanation.")

    def target_weights(self, target: int | None = None) -> np.ndarray:
        return self.weights[:, self.target if target is None else target]

    def top(self, k: int = 10, target: int | None = None) -> list[tuple[str, float]]:
        """The ``k`` seen units with the largest weights toward ``target``."""
        w, seen, units = self.target_weights(target), self.seen, self.units  # each built once, not per unit
        order = [i for i in np.argsort(-w, kind="stable") if seen[i]][:k]
        return [(units[i], float(w[i])) for i in order]

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("weights", "base_value", "proba"):
            d[k] = np.asarray(d[k]).tolist()
        d["spans"] = [list(s) for s in self.spans]
        d["units"] = self.units
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, d: dict) -> "Explanation":
        d = dict(d)
        d.pop("units", None)
        for k in ("weights", "base_value", "proba"):
            d[k] = np.asarray(d[k], dtype=float)
        d["spans"] = [tuple(s) for s in d["spans"]]
        return cls(**d)

    def to_html(self, target: int | None = None) -> str:
        """A self-contained snippet: the post with each unit shaded by its weight.

        Every piece of user text goes through ``html.escape`` (quotes included).
        """
        t = self.target if target is None else target
        w = self.weights[:, t]
        scale = float(np.abs(w).max()) or 1.0
        parts, pos = [], 0
        for (a, b), wi, seen in zip(self.spans, w, self.seen):
            parts.append(html.escape(self.text[pos:a], quote=True))
            parts.append(_shaded(self.text[a:b], wi, scale) if seen else _greyed(self.text[a:b]))
            pos = b
        parts.append(html.escape(self.text[pos:], quote=True))
        label = html.escape(self.labels[t], quote=True)
        grey = " · grey: not seen by the model" if not self.seen.all() else ""
        head = (f'<div style="font: 12px sans-serif; color: #555">{html.escape(self.model)} · '
                f'{html.escape(self.method.upper())} · toward <b>{label}</b> (p={self.proba[t]:.3f}) · '
                f'red pushes toward, blue away{grey}</div>')
        note = "".join(f'<div style="font: 12px sans-serif; color: #a60">{html.escape(n)}</div>'
                       for n in (self.member_note, self.truncated, self.unseen_note) if n)
        body = "".join(parts).replace("\n", "<br>")
        return f'<div class="mhx-explanation">{head}{note}<div style="line-height: 1.8">{body}</div></div>'


def _shaded(word: str, weight: float, scale: float) -> str:
    """A seen unit, its background red (toward the class) or blue (away) as strong as its weight."""
    alpha = min(1.0, abs(weight) / scale)
    rgb = "214,39,40" if weight > 0 else "31,119,180"
    title = html.escape(f"{word}: {weight:+.4f}", quote=True)
    return (f'<span title="{title}" style="background: rgba({rgb},{alpha:.2f}); '
            f'border-radius: 3px; padding: 0 1px">{html.escape(word, quote=True)}</span>')


def _greyed(word: str) -> str:
    """A unit the model does not see: grey text, no weight."""
    title = html.escape(f"{word}: not seen by the model", quote=True)
    return f'<span class="mhx-unseen" title="{title}" style="color: #999">{html.escape(word, quote=True)}</span>'
