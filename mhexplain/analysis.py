"""Side-by-side predictions for one post, for the Analyze page and the API alike."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classifier import validate_texts
from .labels import DISPLAY_NAMES


@dataclass
class Comparison:
    proba: dict[str, np.ndarray]

    @property
    def predictions(self) -> dict[str, int]:
        return {n: int(p.argmax()) for n, p in self.proba.items()}

    @property
    def agree(self) -> bool:
        return len(set(self.predictions.values())) <= 1

    def rows(self) -> list[dict]:
        return [{"model": n, "prediction": DISPLAY_NAMES[int(p.argmax())], "confidence": float(p.max()),
                 **{DISPLAY_NAMES[i]: float(v) for i, v in enumerate(p)}} for n, p in self.proba.items()]


def compare_post(models: dict, text: str) -> Comparison:
    (text,) = validate_texts([text])
    return Comparison({n: np.asarray(clf.predict_proba([text]))[0] for n, clf in models.items()})
