"""Side-by-side predictions for one post, for the Analyze page and the API alike."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mhexplain.classifiers.catalog import title
from mhexplain.core.classifier import abstains
from mhexplain.core.errors import InputTextError
from mhexplain.core.labels import common_labels, display_name
from mhexplain.explain import rank_agreement
from mhexplain.scoring.table import score_rows
from mhexplain.trust.shift import Reference
from mhexplain.trust.shortcuts import WordMask


@dataclass
class Comparison:
    proba: dict[str, np.ndarray]  # calibrated
    thresholds: dict[str, float | None]  # each model's abstention threshold (None: it always answers)
    labels: tuple[str, ...] = ()  # the models' one label set
    text: str = ""  # what the models read of the post (``scoring.inputs``)
    note: str = ""  # "" or why the models read less than was given (``scoring.inputs.TRUNCATED``)
    typicality: float | None = None  # against the models' held-out posts (``scoring.shift``); None: not compared
    answered: dict[str, str] = field(default_factory=dict)  # a cascade's name -> the member that answered

    def answered_sentences(self) -> list[str]:
        """'Cascade gave Logistic Regression's answer.' for each model made of others."""
        return [f"{title(n)} gave {title(m)}'s answer." for n, m in self.answered.items()]

    @property
    def uncertain(self) -> dict[str, bool]:
        """Models whose calibrated confidence is below their threshold: they say "uncertain"."""
        return {n: bool(abstains(p.max(), self.thresholds.get(n))) for n, p in self.proba.items()}

    @property
    def predictions(self) -> dict[str, int]:
        return {n: int(p.argmax()) for n, p in self.proba.items()}

    @property
    def agree(self) -> bool:
        return len(set(self.predictions.values())) <= 1

    def verdict(self) -> tuple[bool, str]:
        """One line on whether the models agree that names every model that abstains, and whether
        it is good news (every model answers, all with the same class)."""
        abstaining = [n for n, u in self.uncertain.items() if u]
        answers = {n: c for n, c in self.predictions.items() if n not in abstaining}
        classes = {display_name(self.labels[c]) for c in answers.values()}
        if not answers:
            return False, f"No model answers: {_and(abstaining)} {'is' if len(abstaining) == 1 else 'are'} uncertain."
        if len(classes) > 1:
            said = ", ".join(f"{title(n)} {display_name(self.labels[c])}" for n, c in answers.items())
            return False, f"The models disagree: {said}{_abstain(abstaining, '; ')}."
        (cls,) = classes
        if not abstaining:
            return True, f"All models agree: {cls}."
        if len(answers) == 1:
            return False, f"Only {_and(answers)} answers ({cls}){_abstain(abstaining, '; ')}."
        return False, f"{_and(answers)} agree ({cls}){_abstain(abstaining, '; ')}."


def _and(names) -> str:
    """'Naive Bayes, Logistic Regression and BERT'."""
    titles = [title(n) for n in names]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def _abstain(names: list[str], sep: str) -> str:
    if not names:
        return ""
    return f"{sep}{_and(names)} {'abstains' if len(names) == 1 else 'abstain'} (uncertain)"


def below_threshold(confidence: float, threshold: float) -> str:
    """'confidence 0.7199 is below its threshold 0.7200': as many decimals (3 to 6) as it takes for
    the two printed numbers to differ, so rounding never makes them read as equal."""
    for digits in range(3, 7):
        shown, needed = f"{confidence:.{digits}f}", f"{threshold:.{digits}f}"
        if shown != needed:
            return f"confidence {shown} is below its threshold {needed}"
    return f"confidence just below its threshold {threshold:.3f}"


def compare_post(models: dict, text: str, reference: Reference | None = None) -> Comparison:
    """Every model's prediction for one pasted post, read as a row of a file would be
    (``scoring.table.score_rows``): cleaned, and cut at the length the models read, with a note;
    with ``reference``, how typical of the models' in-domain posts it is."""
    if not isinstance(text, str):
        raise InputTextError(f"The post is {type(text).__name__}, not text.")
    labels = common_labels({n: m.labels for n, m in models.items()}, "compare the predictions of")
    scored = score_rows(models, [1], None, [text], reference=reference)
    if not scored.has_text[0]:
        raise InputTextError("The post is empty: paste some text first.")
    return Comparison({n: p[0] for n, p in scored.proba.items()}, scored.thresholds, labels, scored.inputs[0],
                      scored.notes[0], None if scored.typicality is None else float(scored.typicality[0]),
                      {n: who[0] for n, who in (scored.answered or {}).items()})


def word_agreement(explanations: dict) -> pd.DataFrame | None:
    """Pairwise rank agreement between models' explanations of one post for the same class, over
    the words both models see (a word one of them cannot see weighs 0 by construction, and would
    only add ties): Spearman, and the overlap of the two top-``k`` lists, where ``k`` is 5 or the
    number of words the pair shares, if fewer; each pair has its own ``k``, in its own column.

    None when fewer than two explanations share a target class and words.
    """
    items = list(explanations.items())
    if len(items) < 2 or len({e.target for _, e in items}) != 1 or len({tuple(e.spans) for _, e in items}) != 1:
        return None
    rows = []
    for i, (n1, e1) in enumerate(items):
        for n2, e2 in items[i + 1:]:
            r = rank_agreement(e1.target_weights(), e2.target_weights(), among=e1.seen & e2.seen)
            rows.append({"model A": n1, "model B": n2, "Spearman": r["spearman"], "k": r["k"],
                         "top-k overlap": r["top_k_overlap"]})
    return pd.DataFrame(rows)


def condition_words_on_top(explanations: dict, mask: WordMask, k: int = 3) -> dict[str, list[str]]:
    """For each explanation whose ``k`` most positive words include words of ``mask`` (those that
    name a class: ``WordMask.for_labels``), those words: the model may be reading the label's name
    (the subreddit's, for the Kaggle file) rather than the post."""
    out = {}
    for name, exp in explanations.items():
        words = list(dict.fromkeys(w for w, weight in exp.top(k) if weight > 0 and mask.matches(w)))
        if words:
            out[name] = words
    return out
