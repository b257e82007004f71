"""The condition's name as a shortcut: the words that give a post's subreddit away, and deleting them.

A model can score well here by spotting "anxiety" in an r/Anxiety post. ``WordMask`` deletes such
words from a post (the probe measures what that costs a model; ``--mask-words`` trains a model
that never sees them). The default list comes from the model's label names (``default_words``:
for the Kaggle file's five, the curated ``CONDITION_WORDS``); a user's list is a text file of
the same form: one word per line, ``*`` at the end for "and every word starting so", ``#``
for comments.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mhexplain.core import classifier
from mhexplain.core.classifier import validate_texts
from mhexplain.core.errors import ArtifactError, ConfigError
from mhexplain.datasets.dataset import KAGGLE_LABELS

# Words that name a condition or its subreddit (r/AvPD: avoidant personality disorder).
CONDITION_NAMES = ("depress*", "bipolar", "anxi*", "stress*", "avpd", "avoidant", "personalit*", "disorder*",
                   "mania", "manic", "hypomania", "hypomanic", "panic*")
# Words that stand in for those names: abbreviations, medications, a symptom's name. Models
# trained with the names deleted ranked these top (issue 22), so deleting names alone leaves
# the shortcut half open.
CONDITION_PROXIES = ("bp", "gad", "lamictal", "lithium", "xanax", "lexapro", "psychosis", "psychotic", "avoid*",
                     "attack", "attacks")
CONDITION_WORDS = CONDITION_NAMES + CONDITION_PROXIES
MASKING_FILE = "masking.json"
# Endings cut from a label's words so that the pattern also finds their relatives ("suicidal" ->
# "suicid*" finds "suicide"); longest first.
_ENDINGS = ("ations", "ation", "ities", "ity", "ness", "ions", "ion", "ing", "ive", "al", "ed", "es", "s", "y")
# Words of a label name that say nothing about its class.
_FILLER = frozenset({"and", "or", "the", "with", "without", "not", "non", "other", "others", "none", "yes", "no",
                     "class", "label", "related", "general", "misc", "positive", "negative", "neutral"})
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_LABEL_WORD = re.compile(r"[^\W\d_][^\W\d_']*(?:'[^\W\d_]+)*")  # a word of a label name, in any script


# A word list names a few dozen words. Every one becomes a branch of one pattern tried at each
# word of every post, so a file that is not such a list (a device, a dictionary, one 5 MB "word")
# would keep the probe busy for hours: it is refused, reading no more than the limit to tell.
MAX_WORD_LIST_BYTES = 64 * 1024
MAX_WORDS = 500
MAX_WORD_CHARS = 40


def _word_list_text(p: Path) -> str:
    unreadable = f"Cannot read the word list {p} (a UTF-8 text file, one word per line)."
    try:
        if p.exists() and not p.is_file():
            raise ConfigError(f"The word list {p} is not a regular file; give a text file, one word per line.")
        with open(p, "rb") as f:
            raw = f.read(MAX_WORD_LIST_BYTES + 1)
        if len(raw) > MAX_WORD_LIST_BYTES:
            raise ConfigError(f"The word list {p} is larger than {MAX_WORD_LIST_BYTES // 1024} KiB; "
                              f"a list holds at most {MAX_WORDS} words.")
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise ConfigError(unreadable) from None


def _word_list_problem(words: tuple[str, ...], p: Path) -> str | None:
    if not words:
        return f"The word list {p} is empty."
    if len(words) > MAX_WORDS:
        return f"The word list {p} has {len(words):,} words; at most {MAX_WORDS} are read."
    longest = max(words, key=len)
    if len(longest) > MAX_WORD_CHARS:
        return f"The word list {p} has a word of {len(longest):,} characters; at most {MAX_WORD_CHARS} are read."
    bad = [w for w in words if not re.fullmatch(r"[a-z][a-z']*\*?", w)]
    if bad:
        return (f"The word list {p} needs one word per line (letters, an optional * at the end); "
                f"{len(bad)} line(s) are not.")
    return None


def read_word_list(path: str | Path) -> tuple[str, ...]:
    p = Path(path)
    lines = _word_list_text(p).splitlines()
    words = tuple(w.strip().lower() for w in lines if w.strip() and not w.strip().startswith("#"))
    problem = _word_list_problem(words, p)
    if problem:
        raise ConfigError(problem)
    return words


def parse_words(text: str) -> tuple[str, ...]:
    """Words typed by a visitor (separated by commas or spaces), held to a word list's rules: one
    line naming what is wrong."""
    words = tuple(dict.fromkeys(w.lower() for w in re.split(r"[\s,]+", text or "") if w))
    if not words:
        raise ConfigError("No word to probe: pick or type at least one.")
    if len(words) > MAX_WORDS or max(map(len, words)) > MAX_WORD_CHARS:
        raise ConfigError(f"At most {MAX_WORDS} words of up to {MAX_WORD_CHARS} characters can be probed.")
    bad = [w for w in words if not re.fullmatch(r"[a-z][a-z']*\*?", w)]
    if bad:
        raise ConfigError(f"{len(bad)} of the words {'is not a word' if len(bad) == 1 else 'are not words'} (letters, "
                          "an optional * at the end).")
    return words


# The prior's weight: a word's counts in all the posts, scaled so they weigh as this many posts'
# worth of words. Monroe et al. weigh the background fully; a light prior keeps rare class words.
_PRIOR_SCALE = 0.1


def top_class_words(texts, predicted, labels, k: int = 10, min_posts: int = 5) -> dict[str, list[tuple[str, float]]]:
    """For each class, the ``k`` words most typical of the posts a model assigns to it against the
    rest: the z-score of the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi
    & Quinn 2008, "Fightin' words"). Words in at least ``min_posts`` posts, English stop words
    left out. Computed from a model's own predictions, they are the words it leans on, whatever
    kind of model it is: candidates for the shortcut probe."""
    from sklearn.feature_extraction.text import CountVectorizer  # only this review needs it

    vec = CountVectorizer(token_pattern=r"(?u)\b[a-z][a-z']+\b", stop_words="english", min_df=min_posts)
    try:
        counts = vec.fit_transform([str(t).lower() for t in texts]).tocsr()
    except ValueError:  # no word in enough posts
        return {lab: [] for lab in labels}
    vocab = vec.get_feature_names_out()
    predicted = np.asarray(predicted)
    total = np.asarray(counts.sum(0), dtype=float).ravel()
    alpha = total * _PRIOR_SCALE + 0.01
    out = {}
    for k_cls, lab in enumerate(labels):
        inside = np.asarray(counts[predicted == k_cls].sum(0), dtype=float).ravel()
        outside = total - inside
        if not inside.any():
            out[lab] = []
            continue
        a0, n_in, n_out = alpha.sum(), inside.sum(), outside.sum()
        delta = (np.log((inside + alpha) / (n_in + a0 - inside - alpha))
                 - np.log((outside + alpha) / (n_out + a0 - outside - alpha)))
        z = delta / np.sqrt(1 / (inside + alpha) + 1 / (outside + alpha))
        best = np.argsort(-z, kind="stable")[:k]
        out[lab] = [(str(vocab[i]), float(z[i])) for i in best if z[i] > 0]
    return out


def default_words(labels) -> tuple[str, ...]:
    """The words that give a post's class away by name: for the Kaggle file's labels the curated
    ``CONDITION_WORDS``; for any other label set, each word of each label name (3 letters or more,
    not a filler such as "other"), as a prefix once a common ending is cut ("suicidal" -> "suicid*")."""
    if tuple(labels) == KAGGLE_LABELS:
        return CONDITION_WORDS
    words = []
    for label in labels:
        for word in _LABEL_WORD.findall(label.lower()):
            word = word.strip("'")
            if len(word) < 3 or word in _FILLER:
                continue
            stem = next((word[:-len(e)] for e in _ENDINGS if word.endswith(e) and len(word) - len(e) >= 4), word)
            words.append(stem + "*")
    return tuple(dict.fromkeys(words))


@dataclass(frozen=True)
class WordMask:
    words: tuple[str, ...]

    @classmethod
    def from_spec(cls, spec: str | None, labels) -> "WordMask":
        """``None`` or "default": the default list for ``labels`` (refused when their names hold no
        word); anything else: a word-list file."""
        if spec not in (None, "", "default"):
            return cls(read_word_list(spec))
        words = default_words(labels)
        if not words:
            raise ConfigError(f"--mask-words: the class names ({', '.join(labels[:5])}) hold no word to delete; "
                              "give a word-list file.")
        return cls(words)

    @classmethod
    def for_labels(cls, labels, extra: tuple[str, ...] = ()) -> "WordMask":
        """The default list for ``labels`` and ``extra`` words (a ``--words`` file's)."""
        return cls(tuple(dict.fromkeys(default_words(labels) + tuple(extra))))

    @functools.cached_property  # built once: the probe tries it at every word of every post
    def pattern(self) -> re.Pattern:
        parts = [re.escape(w[:-1]) + r"[A-Za-z']*" if w.endswith("*") else re.escape(w) for w in self.words]
        if not parts:  # no word to delete: a pattern that matches nothing (an empty one would match everywhere)
            return re.compile(r"(?!)")
        return re.compile(r"(?<![A-Za-z'])(?:" + "|".join(parts) + r")(?![A-Za-z'])", re.IGNORECASE)

    def count(self, text: str) -> int:
        return len(self.pattern.findall(text))

    def delete(self, text: str) -> str:
        return self.pattern.sub("", text)

    def matches(self, word: str) -> bool:
        return bool(self.pattern.fullmatch(word))


def delete_random_words(text: str, n: int, mask: WordMask, rng: np.random.Generator) -> str:
    """``text`` without ``n`` randomly chosen words that the mask does not name (the probe's control)."""
    spans = [m.span() for m in _WORD.finditer(text) if not mask.matches(m.group())]
    if n <= 0 or not spans:
        return text
    drop = set(rng.choice(len(spans), size=min(n, len(spans)), replace=False).tolist())
    out, pos = [], 0
    for k, (a, b) in enumerate(spans):
        if k in drop:
            out.append(text[pos:a])
            pos = b
    out.append(text[pos:])
    return "".join(out)


class MaskedInput:
    """A Classifier that deletes the mask's words from every post before its model sees it: a model
    trained with ``--mask-words`` applies the same deletion at inference."""

    def __init__(self, base, mask: WordMask) -> None:
        self.base, self.mask = base, mask
        self.name, self.labels, self.batch_size = base.name, base.labels, base.batch_size
        for ability in ("explain_budget", "fingerprint"):
            if hasattr(base, ability):
                setattr(self, ability, getattr(base, ability))

        if hasattr(base, "linear_contributions"):
            self.linear_contributions = self._linear_contributions

    def predict_proba(self, texts):
        return self.base.predict_proba([self.mask.delete(t) for t in validate_texts(texts, allow_empty=True)])

    def _linear_contributions(self, text: str, spans):
        # The spans follow their characters into the post the model sees; a deleted word's span is
        # empty there and contributes exactly nothing.
        return self.base.linear_contributions(*self._through_mask(text, spans))

    def visible_units(self, text: str, spans) -> np.ndarray:
        """The spans the model sees: what is left of them after the deletion, where the model
        inside sees that. A span the mask deletes whole is never seen."""
        post, moved = self._through_mask(text, spans)
        left = np.array([b > a for a, b in moved], dtype=bool)
        return left & classifier.visible_units(self.base, post, moved)

    def _through_mask(self, text: str, spans) -> tuple[str, list[tuple[int, int]]]:
        """The post as the model sees it, and each span's characters in it."""
        kept = np.ones(len(text), dtype=bool)
        for m in self.mask.pattern.finditer(text):
            kept[m.start():m.end()] = False
        before = np.concatenate([[0], np.cumsum(kept)])  # kept characters before each position
        return self.mask.delete(text), [(int(before[a]), int(before[b])) for a, b in spans]


def save_mask(mask: WordMask, directory: Path) -> None:
    (Path(directory) / MASKING_FILE).write_text(json.dumps({"words": list(mask.words)}, indent=2))


def load_mask(directory: Path) -> WordMask | None:
    """The mask a model was trained with (None: it sees posts as written), held to the limits of
    a user's word list: its words become one pattern tried at every word of every post."""
    p = Path(directory) / MASKING_FILE
    if not p.is_file():
        return None
    try:
        words = json.loads(_word_list_text(p))["words"]
    except ConfigError as err:
        raise ArtifactError(_retrain(str(err))) from None
    except (ValueError, KeyError, TypeError, RecursionError):
        words = None
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ArtifactError(f"{p} is not a valid word list; retrain this model.")
    problem = _word_list_problem(tuple(words), p)
    if problem:
        raise ArtifactError(_retrain(problem))
    return WordMask(tuple(words))


def _retrain(problem: str) -> str:
    return f"{problem.rstrip('.')}; retrain this model."
