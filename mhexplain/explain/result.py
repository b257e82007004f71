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
    faithfulness: dict = field(default_factory=dict)
    cached: bool = False

    @property
    def units(self) -> list[str]:
        return [self.text[a:b] for a, b in self.spans]

    def target_weights(self, target: int | None = None) -> np.ndarray:
        return self.weights[:, self.target if target is None else target]

    def top(self, k: int = 10, target: int | None = None) -> list[tuple[str, float]]:
        w = self.target_weights(target)
        order = np.argsort(-w, kind="stable")[:k]
        return [(self.units[i], float(w[i])) for i in order]

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
        for (a, b), wi in zip(self.spans, w):
            parts.append(html.escape(self.text[pos:a], quote=True))
            alpha = min(1.0, abs(wi) / scale)
            rgb = "214,39,40" if wi > 0 else "31,119,180"
            title = html.escape(f"{self.text[a:b]}: {wi:+.4f}", quote=True)
            parts.append(f'<span title="{title}" style="background: rgba({rgb},{alpha:.2f}); '
                         f'border-radius: 3px; padding: 0 1px">{html.escape(self.text[a:b], quote=True)}</span>')
            pos = b
        parts.append(html.escape(self.text[pos:], quote=True))
        label = html.escape(self.labels[t], quote=True)
        head = (f'<div style="font: 12px sans-serif; color: #555">{html.escape(self.model)} · '
                f'{html.escape(self.method.upper())} · toward <b>{label}</b> (p={self.proba[t]:.3f}) · '
                f'red pushes toward, blue away</div>')
        note = (f'<div style="font: 12px sans-serif; color: #a60">{html.escape(self.truncated)}</div>'
                if self.truncated else "")
        body = "".join(parts).replace("\n", "<br>")
        return f'<div class="mhx-explanation">{head}{note}<div style="line-height: 1.8">{body}</div></div>'
