"""Word units of a post as the user wrote it, with character spans, and text perturbation.

A unit is a word (letters/digits, with inner apostrophes or hyphens) or a run of other
non-space symbols (punctuation, emoji). Every model is explained over the same units, so
explanations of NB, LR and BERT line up word for word. The units a model does not see are no
features of its explanation: ``Units.only`` keeps the others, and the rest of the text stays as
written in every perturbation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

UNIT_RE = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]+")


@dataclass(frozen=True)
class Units:
    text: str
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, text: str) -> "Units":
        return cls(text, tuple(m.span() for m in UNIT_RE.finditer(text)))

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def words(self) -> list[str]:
        return [self.text[a:b] for a, b in self.spans]

    def keep(self, mask) -> str:
        """The text with the units where ``mask`` is False removed (other characters kept)."""
        mask = np.asarray(mask, dtype=bool)
        parts, pos = [], 0
        for (a, b), k in zip(self.spans, mask):
            if not k:
                parts.append(self.text[pos:a])
                pos = b
        parts.append(self.text[pos:])
        return "".join(parts)

    def only(self, mask) -> "Units":
        """The units where ``mask`` is True, over the same text: the others become plain text that
        ``keep`` never removes."""
        return Units(self.text, tuple(sp for sp, k in zip(self.spans, np.asarray(mask, dtype=bool)) if k))

    def truncated(self, max_units: int) -> "Units":
        """The first ``max_units`` units, the text cut after the last of them."""
        if len(self) <= max_units:
            return self
        end = self.spans[max_units - 1][1]
        return Units(self.text[:end], self.spans[:max_units])


class UnitTokenizer:
    """What ``shap.maskers.Text`` needs from a tokenizer, over our units: those of ``units`` for its
    text (the features of an explanation), every unit for any other string.

    Masked units are removed, not replaced by a mask word: ``mask_token`` is empty.
    """

    mask_token = ""
    mask_token_id = -1

    def __init__(self, units: Units | None = None) -> None:
        self.units = units

    def __call__(self, s: str, return_offsets_mapping: bool = True) -> dict:
        if self.units is not None and s == self.units.text:
            spans = list(self.units.spans)
        else:
            spans = [m.span() for m in UNIT_RE.finditer(s)]
        out = {"input_ids": [s[a:b] for a, b in spans]}
        if return_offsets_mapping:
            out["offset_mapping"] = spans
        return out
