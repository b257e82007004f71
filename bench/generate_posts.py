"""Generate a CSV of labelled posts of any size and any number of classes, for benchmarks and tests.

    python bench/generate_posts.py --out data/posts-100k.csv [--posts 100000] [--classes 5 | --labels a,b,c]
        [--text-col body] [--title-col headline] [--label-col label] [--group-col author] [--seed 0]
        [--data data_to_be_cleansed.csv]

Each post has a headline and a body whose lengths in words are drawn like those of the real Reddit
posts: lognormal, with the parameters measured on the Kaggle file (below), or fitted to the file
``--data`` names (its ``text`` and ``title`` columns); about one body in seventeen is empty, as there.
Words come from English: WordNet's lemmas ranked by how often their senses occur in the SemCor
corpus, after NLTK's English stopwords, drawn with Zipf's law (corpora/wordnet.zip and
corpora/stopwords.zip in --nltk-data; without them, a generated vocabulary). A share of each post's
words (--signal) comes from a few dozen words of its class, which overlap with the next class's, and
a share (--author-signal) from a few words of its author; each author writes mostly in one class
(--author-loyalty), and a share of the labels is replaced at random (--label-noise). A classifier so
learns something, not everything, and a row-level split lets it learn authors' words it would not
see in a group-aware one. The same seed, settings and vocabulary give the same file, byte for byte.

Train on it with, for example:
    python -m train --data data/posts-100k.csv --text-col body --title-col headline --label-col label
        --group-col author --models nb,lr
"""
from __future__ import annotations

import math
import re
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from _proc import ROOT

from mhexplain.cli.args import option, parse
from mhexplain.cli.command import run_command
from mhexplain.core.errors import DataError
from mhexplain.core.outputs import atomic_file, check_output_file
from mhexplain.core.textsafe import printable

PROG = "python bench/generate_posts.py"
MIN_CLASSES, MAX_CLASSES = 2, 100
CHUNK = 10_000  # posts drawn and written at a time; part of what a seed means, so a constant
CLASS_WORDS = 30  # each class's own words; half of them are also the next class's
AUTHOR_WORDS = 3  # each author's own words
GENERATED_VOCABULARY = 20_000


@dataclass(frozen=True)
class Lengths:
    """Words per post: a body is empty with probability ``body_empty``, else lognormal (clipped to
    1..``body_max``); a headline is lognormal, clipped to 1..``title_max``."""

    body_empty: float
    body_mu: float
    body_sigma: float
    body_max: int
    title_mu: float
    title_sigma: float
    title_max: int


# Measured on ../shared/data/data_to_be_cleansed.csv (5,957 posts; whitespace-separated words):
# 5.88% of bodies are empty; the others have log word counts of mean 4.6051 and standard deviation
# 1.0876 (median 113 words, 95th percentile 448, longest 5,411); headlines 1.8141 and 0.7506
# (median 6 words, longest 62). `--data` on that file reproduces these figures.
REDDIT = Lengths(0.0588, 4.6051, 1.0876, 5411, 1.8141, 0.7506, 62)


def _log_fit(counts: pd.Series) -> tuple[float, float, int]:
    logs = np.log(counts[counts > 0].to_numpy(dtype=float))
    return float(logs.mean()), float(logs.std()), int(counts.max())


def fit_lengths(path: Path) -> Lengths:
    """The lognormal fitted to the word counts of a posts CSV's ``text`` and ``title`` columns."""
    try:
        df = pd.read_csv(path, usecols=["text", "title"], dtype=str, keep_default_na=False)
    except ValueError:
        raise DataError(f"--data {path} has no 'text' and 'title' columns to fit the lengths to.") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"--data {path} cannot be read as a CSV: {err}") from None
    body, title = (df[c].str.split().str.len() for c in ("text", "title"))
    if (body > 0).sum() < 2 or (title > 0).sum() < 2:
        raise DataError(f"--data {path} has too few non-empty posts to fit the lengths to.")
    return Lengths(float((body == 0).mean()), *_log_fit(body), *_log_fit(title))


def _zip_lines(path: Path, member: str) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return z.read(member).decode("utf-8", "replace").splitlines()


def _wordnet_ranked(wordnet: Path) -> list[str]:
    """WordNet's one-word lemmas, the most often tagged senses first (the index's tagsense_cnt)."""
    counts: dict[str, int] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        for line in _zip_lines(wordnet, f"wordnet/index.{pos}"):
            parts = line.split()
            if line.startswith(" ") or len(parts) < 6 or not re.fullmatch(r"[a-z]{2,}", parts[0]):
                continue  # the licence header, collocations (with '_'), numbers
            counts[parts[0]] = counts.get(parts[0], 0) + int(parts[5 + int(parts[3])])
    return sorted(counts, key=lambda w: (-counts[w], w))


def _generated_words(n: int) -> list[str]:
    """Pronounceable made-up words, the same on every machine."""
    rng = np.random.default_rng(20_240_601)
    onsets = list("bcdfghjklmnprstvwz") + ["ch", "sh", "th", "st", "tr", "br"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
    words: dict[str, None] = {}
    while len(words) < n:
        k = int(rng.integers(1, 4))
        words["".join(onsets[int(rng.integers(len(onsets)))] + vowels[int(rng.integers(len(vowels)))]
                      for _ in range(k))] = None
    return list(words)


def vocabulary(nltk_data: Path) -> tuple[list[str], str]:
    """(words, most frequent first; where they came from)."""
    wordnet, stopwords = nltk_data / "corpora" / "wordnet.zip", nltk_data / "corpora" / "stopwords.zip"
    if not wordnet.is_file():
        return _generated_words(GENERATED_VOCABULARY), f"{GENERATED_VOCABULARY:,} generated words (no {wordnet})"
    head = []
    if stopwords.is_file():
        head = [w for w in _zip_lines(stopwords, "stopwords/english") if re.fullmatch(r"[a-z']+", w)]
    seen = set(head)
    words = head + [w for w in _wordnet_ranked(wordnet) if w not in seen]
    return words, f"{len(words):,} English words ({len(head)} stopwords, then WordNet lemmas)"


@dataclass
class Settings:
    out: Path = option(help="the CSV to write (e.g. under data/, which git ignores)")
    posts: int = option(100_000, "posts to generate", min=1, max=10_000_000)
    classes: int | None = option(None, "number of classes (default: 5, or as many as --labels)", min=MIN_CLASSES,
                                 max=MAX_CLASSES)
    labels: tuple[str, ...] | None = option(None, "the class names, comma-separated (default class_00, class_01, ...)")
    text_col: str = option("body", "the column of the post's text", empty=False)
    title_col: str | None = option("headline", "the column of the post's headline ('' for none)")
    label_col: str = option("label", "the column of the label", empty=False)
    group_col: str | None = option("author", "the column of the post's author ('' for none)")
    posts_per_author: float = option(5.0, "posts per author, on average (some write many, some one)", min=1.0)
    author_loyalty: float = option(0.8, "share of an author's posts in the author's own class", min=0.0, max=1.0)
    signal: float = option(0.04, "share of a post's words drawn from its class's words", min=0.0, max=1.0)
    author_signal: float = option(0.02, "share of a post's words drawn from its author's words", min=0.0, max=1.0)
    label_noise: float = option(0.05, "share of posts whose label is replaced by a random class", min=0.0, max=1.0)
    seed: int = option(0, "random seed", min=0, max=2**32 - 1)
    data: Path | None = option(None, "a posts CSV (text and title columns) whose word counts the lengths are fitted "
                                     "to (default: the parameters measured on the Kaggle file)")
    nltk_data: Path = option(ROOT.parent / "shared" / "nltk_data", "folder with corpora/wordnet.zip and "
                                                                   "corpora/stopwords.zip, the vocabulary")
    overwrite: bool = option(False, "replace --out if it exists")

    @property
    def label_names(self) -> tuple[str, ...]:
        if self.labels:
            return self.labels
        return tuple(f"class_{k:02d}" for k in range(self.classes or 5))

    def problems(self) -> list[str]:
        out = []
        if self.labels is not None and not MIN_CLASSES <= len(self.labels) <= MAX_CLASSES:
            out.append(f"--labels names {len(self.labels)} classes; give {MIN_CLASSES} to {MAX_CLASSES}")
        elif self.labels and len(set(self.labels)) < len(self.labels):
            out.append("--labels names a class twice")
        elif self.labels and self.classes is not None and self.classes != len(self.labels):
            out.append(f"--classes {self.classes} but --labels names {len(self.labels)}; give one of them")
        if self.signal + self.author_signal > 1:
            out.append("--signal and --author-signal add up to more than 1")
        columns = [c for c in (self.text_col, self.title_col, self.label_col, self.group_col) if c]
        if len(set(columns)) < len(columns):
            out.append("two of --text-col, --title-col, --label-col, --group-col have the same name")
        if self.out.is_file() and not self.overwrite:
            out.append(f"--out {self.out} exists; pass --overwrite to replace it")
        return out


def _lognormal_counts(rng: np.random.Generator, mu: float, sigma: float, top: int, n: int) -> np.ndarray:
    return np.clip(np.rint(rng.lognormal(mu, sigma, n)), 1, top).astype(np.int64)


@dataclass
class Plan:
    """Everything drawn per post and per author before any word is."""

    author: np.ndarray
    true_class: np.ndarray  # what the words say
    label: np.ndarray  # what the file says (after the label noise)
    title_len: np.ndarray
    body_len: np.ndarray
    class_words: np.ndarray  # (classes, CLASS_WORDS) word ids
    author_words: np.ndarray  # (authors, AUTHOR_WORDS) word ids


def plan(s: Settings, n_words: int, lengths: Lengths, rng: np.random.Generator) -> Plan:
    n, k = s.posts, len(s.label_names)
    authors = max(1, math.ceil(n / s.posts_per_author))
    activity = rng.lognormal(0.0, 1.0, authors)
    author = rng.choice(authors, size=n, p=activity / activity.sum())
    # Authors dealt to classes in order of activity (snake order: 0..k-1, k-1..0, ...), so that the
    # few prolific authors do not make one class several times the size of another.
    home = np.empty(authors, dtype=np.int64)
    turn = np.arange(authors)
    home[np.argsort(-activity, kind="stable")] = np.where(turn // k % 2 == 0, turn % k, k - 1 - turn % k)
    true_class = np.where(rng.random(n) < s.author_loyalty, home[author], rng.integers(k, size=n))
    label = np.where(rng.random(n) < s.label_noise, rng.integers(k, size=n), true_class)
    title_len = _lognormal_counts(rng, lengths.title_mu, lengths.title_sigma, lengths.title_max, n)
    body_len = _lognormal_counts(rng, lengths.body_mu, lengths.body_sigma, lengths.body_max, n)
    body_len[rng.random(n) < lengths.body_empty] = 0
    # Class words: mid-frequency words (past the commonest 300), each class sharing half with the next.
    step = CLASS_WORDS // 2
    pool = 300 + rng.permutation(min(n_words - 300, max(k * step + CLASS_WORDS, 2000)))
    class_words = np.stack([np.take(pool, np.arange(c * step, c * step + CLASS_WORDS), mode="wrap") for c in range(k)])
    author_words = rng.integers(300, n_words, size=(authors, AUTHOR_WORDS))
    return Plan(author, true_class, label, title_len, body_len, class_words, author_words)


def _word_ids(p: Plan, s: Settings, rows: slice, zipf_cdf: np.ndarray, rng: np.random.Generator):
    """The word ids of the posts ``rows``, headline then body, one post after the other."""
    per_post = p.title_len[rows] + p.body_len[rows]
    post = np.repeat(np.arange(len(per_post)), per_post)
    u = rng.random(post.size)
    ids = np.searchsorted(zipf_cdf, rng.random(post.size) * zipf_cdf[-1], side="right")
    own_class = u < s.signal
    ids[own_class] = p.class_words[p.true_class[rows][post[own_class]], rng.integers(CLASS_WORDS, size=own_class.sum())]
    own_author = (u >= s.signal) & (u < s.signal + s.author_signal)
    ids[own_author] = p.author_words[p.author[rows][post[own_author]],
                                     rng.integers(AUTHOR_WORDS, size=own_author.sum())]
    return ids, per_post


def chunks(s: Settings, words: list[str], lengths: Lengths) -> Iterator[pd.DataFrame]:
    """The posts, ``CHUNK`` at a time, as the CSV's columns."""
    rng = np.random.default_rng(s.seed)
    p = plan(s, len(words), lengths, rng)
    zipf_cdf = np.cumsum(1.0 / np.arange(2.7, len(words) + 2.7))  # Mandelbrot's offset flattens the head
    names = np.array(s.label_names, dtype=object)
    width = len(str(len(p.author_words) - 1))
    for start in range(0, s.posts, CHUNK):
        rows = slice(start, min(start + CHUNK, s.posts))
        ids, per_post = _word_ids(p, s, rows, zipf_cdf, rng)
        tokens = [words[i] for i in ids.tolist()]
        ends = np.cumsum(per_post).tolist()
        titles, bodies = [], []
        for begin, title_len, end in zip([0] + ends[:-1], p.title_len[rows].tolist(), ends):
            titles.append(" ".join(tokens[begin:begin + title_len]))
            bodies.append(" ".join(tokens[begin + title_len:end]))
        columns = {s.text_col: bodies, s.label_col: names[p.label[rows]]}
        if s.title_col:
            columns = {s.title_col: titles, **columns}
        if s.group_col:
            columns[s.group_col] = [f"author_{a:0{width}d}" for a in p.author[rows].tolist()]
        yield pd.DataFrame(columns)


@dataclass
class Generated:
    posts: int
    counts: pd.Series  # posts per label
    authors: pd.Series  # posts per author
    body_words: np.ndarray
    vocabulary: str
    lengths: str
    seconds: float


def _summed(parts: list[pd.Series]) -> pd.Series:
    return pd.concat(parts).groupby(level=0).sum() if parts else pd.Series(dtype=int)


def generate(s: Settings) -> Generated:
    check_output_file(s.out, "--out", inputs=[p for p in [s.data] if p])
    t0 = time.perf_counter()
    lengths = fit_lengths(s.data) if s.data else REDDIT
    words, where = vocabulary(s.nltk_data)
    counts, authors, body_words = [], [], []
    with atomic_file(s.out, newline="") as f:
        for i, df in enumerate(chunks(s, words, lengths)):
            df.to_csv(f, index=False, header=i == 0)
            counts.append(df[s.label_col].value_counts())
            if s.group_col:
                authors.append(df[s.group_col].value_counts())
            body_words.append(df[s.text_col].str.count(" ").to_numpy() + (df[s.text_col] != "").to_numpy())
    fitted = f"fitted to {s.data.name}" if s.data else "measured on the Kaggle file"
    return Generated(s.posts, _summed(counts), _summed(authors), np.concatenate(body_words), where, fitted,
                     time.perf_counter() - t0)


def report(g: Generated, s: Settings) -> None:
    counts = g.counts.reindex(list(s.label_names), fill_value=0)
    print(f"{g.posts:,} posts, {len(counts)} classes ({printable(counts.index[0])} ... {printable(counts.index[-1])}; "
          f"{counts.min():,} to {counts.max():,} posts each) -> {printable(s.out)}")
    if len(g.authors):
        print(f"{len(g.authors):,} authors: {g.authors.median():.0f} posts each at the median, "
              f"{g.authors.max():,} at most")
    w = g.body_words
    print(f"body words: median {np.median(w):.0f}, mean {w.mean():.0f}, 95th percentile {np.percentile(w, 95):.0f}, "
          f"longest {w.max():,}; empty {np.mean(w == 0):.1%} (lengths {g.lengths})")
    print(f"vocabulary: {g.vocabulary}")
    print(f"generated and written in {g.seconds:.1f} s ({g.posts / g.seconds:,.0f} posts/s)")


def main(argv=None) -> int:
    s = parse(Settings, argv, PROG, __doc__.splitlines()[0])
    return run_command(lambda: generate(s), lambda g: report(g, s), writing=[s.out])


if __name__ == "__main__":
    sys.exit(main())
