"""NLTK preprocessing for the classical models, as in the reference notebook.

lowercase -> keep letters and whitespace -> word_tokenize -> pos_tag -> drop English
stopwords -> WordNet lemmatization with the tag mapped (J adj, V verb, N noun, R adv, else noun).

The tagger is the slow part, so: one tagger instance per process, a (word, tag) lemma
cache, both cores through a process pool for large batches, and an on-disk cache keyed by
the hash of each input text so a second training run never re-tags the corpus. That cache holds
the dataset's posts (lemmatised), so it is readable by its owner only, and posts that must not be
stored (an uploaded file's) are preprocessed inside ``memory_only()``, which keeps them out of it.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path

from sklearn.base import BaseEstimator, TransformerMixin

from mhexplain import settings
from mhexplain.preprocess.fast_lemmatizer import FastWordNetLemmatizer
from mhexplain.preprocess.fast_tagger import FastPerceptronTagger
from mhexplain.preprocess.nltk_bundle import nltk_tables

NON_LETTERS = re.compile(r"[^a-z\s]")
# What NLTK's word_tokenize does to text of lowercase letters and whitespace alone: split on
# whitespace, then the Treebank tokenizer's contraction rules that need no apostrophe. (Its
# sentence splitter is a no-op without punctuation.) tests/test_preprocess.py checks this
# against word_tokenize itself.
SPLIT_CONTRACTIONS = {"cannot": ("can", "not"), "gimme": ("gim", "me"), "gonna": ("gon", "na"),
                       "gotta": ("got", "ta"), "lemme": ("lem", "me"), "wanna": ("wan", "na")}


def tokenize_letters(text: str) -> list[str]:
    out: list[str] = []
    for tok in text.split():
        parts = SPLIT_CONTRACTIONS.get(tok)
        if parts:
            out.extend(parts)
        else:
            out.append(tok)
    return out


_TAG_MAP = {"J": "a", "V": "v", "N": "n", "R": "r"}
CACHE_VERSION = "nltk-v1"
PARALLEL_MIN_DOCS = 200
MEMO_SIZE = 100_000  # preprocessed posts kept per process (a few hundred MB at most)


class _Pipeline:
    """Per-process NLTK state; built lazily so importing this module stays cheap."""

    def __init__(self) -> None:
        # From the cache folder when it holds them: a new process then never imports NLTK.
        tables = nltk_tables(default_cache_dir())
        self.tokenize = tokenize_letters
        self.tagger = FastPerceptronTagger(tables.tagger)
        self.stop = frozenset(tables.stopwords)
        self.lemmatizer = FastWordNetLemmatizer(tables.wordnet)
        self.lemma_cache: dict[tuple[str, str], str] = {}
        self.memo: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        # Remembered per process: NB and LR share this step, and explanations and the probe send
        # both models the same perturbed posts.
        done = self.memo.get(text)
        if done is None:
            tokens = self.tokenize(NON_LETTERS.sub("", text.lower()))
            done = " ".join(lemma for _, lemma in self.lemmas(tokens))
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            self.memo[text] = done
        return done

    def lemmas(self, tokens: list[str]) -> list[tuple[int, str]]:
        """POS-tag ``tokens``, drop stopwords, lemmatize: (token index, lemma) for each kept token."""
        if not tokens:
            return []
        out = []
        cache = self.lemma_cache
        for i, (word, tag) in enumerate(self.tagger.tag(tokens)):
            if word in self.stop:
                continue
            pos = _TAG_MAP.get(tag[:1], "n")
            lemma = cache.get((word, pos))
            if lemma is None:
                lemma = cache[(word, pos)] = self.lemmatizer.lemmatize(word, pos)
            out.append((i, lemma))
        return out


_STATE: _Pipeline | None = None


def _state() -> _Pipeline:
    global _STATE
    if _STATE is None:
        _STATE = _Pipeline()
    return _STATE


def preprocess_text(text: str) -> str:
    return _state()(text)


def clear_memo() -> None:
    """Forget the posts preprocessed so far (a long scoring run calls it per chunk to keep memory flat)."""
    if _STATE is not None:
        _STATE.memo.clear()


def lemmas(tokens: list[str]) -> list[tuple[int, str]]:
    """POS-tag ``tokens``, drop stopwords, lemmatize: (token index, lemma) for each kept token."""
    return _state().lemmas(tokens)


def _worker_batch(texts: list[str]) -> list[str]:
    st = _state()
    return [st(t) for t in texts]


def _text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def default_cache_dir() -> Path:
    return settings.cache_dir()


class DiskCache:
    """JSON-lines store of text-hash -> preprocessed text; appends only, so it is crash-safe."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.path = Path(directory) / f"preprocess-{CACHE_VERSION}.jsonl"
        self.data: dict[str, str] = {}
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        k, v = json.loads(line)
                    except (ValueError, TypeError):
                        continue  # a torn last line from an interrupted run
                    self.data[k] = v

    def add(self, items: dict[str, str]) -> None:
        if not items:
            return
        self.data.update(items)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # a file made by an earlier version (0644) is narrowed too; Windows has no fchmod (nor modes)
        with suppress(OSError, AttributeError):
            os.fchmod(fd, 0o600)
        with open(fd, "a", encoding="utf-8") as f:
            for k, v in items.items():
                f.write(json.dumps([k, v]) + "\n")


# Set inside memory_only(): preprocess_many then leaves the disk cache alone. A context variable,
# so one web session training on an upload does not switch the cache off for another.
_MEMORY_ONLY: ContextVar[bool] = ContextVar("mhexplain_preprocess_memory_only", default=False)


@contextmanager
def memory_only():
    """Inside the block, ``preprocess_many`` neither reads nor writes the on-disk cache: for posts
    that must not be stored anywhere, such as an uploaded file's."""
    token = _MEMORY_ONLY.set(True)
    try:
        yield
    finally:
        _MEMORY_ONLY.reset(token)


def preprocess_many(texts: list[str], n_jobs: int | None = None, cache_dir: str | os.PathLike | None = None,
                    progress=None) -> list[str]:
    """Preprocess a batch; uses the disk cache when ``cache_dir`` is given (outside ``memory_only()``)."""
    texts = list(texts)
    cache = DiskCache(cache_dir) if cache_dir is not None and not _MEMORY_ONLY.get() else None
    hashes = [_text_hash(t) for t in texts]
    known = cache.data if cache else {}
    todo = {}
    for h, t in zip(hashes, texts):
        if h not in known and h not in todo:
            todo[h] = t
    fresh = dict(zip(todo.keys(), _run(list(todo.values()), n_jobs, progress))) if todo else {}
    if cache:
        cache.add(fresh)
    return [known[h] if h in known else fresh[h] for h in hashes]


_POOL: ProcessPoolExecutor | None = None
_POOL_JOBS = 1


@contextmanager
def parallel(jobs: int | None = None):
    """Inside the block, a model's preprocessing of a large batch runs on ``jobs`` processes
    (default: every core), through one pool kept for the whole block, and the results are
    remembered here, so the next model given the same posts finds them done.

    For the batch commands (scoring, external validation): a loaded pipeline preprocesses in
    its own process otherwise. The workers are started by a fork server, not forked from this
    process, which may hold torch's threads.
    """
    global _POOL, _POOL_JOBS
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or _POOL is not None:
        yield
        return
    _state()  # the clear message for missing NLTK data comes from here; the workers load the cached tables
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("forkserver")) as pool:
        _POOL, _POOL_JOBS = pool, jobs
        try:
            yield
        finally:
            _POOL = None


def _run_pooled(texts: list[str], progress) -> list[str]:
    st = _state()
    todo = [t for t in dict.fromkeys(texts) if t not in st.memo]
    size = max(16, len(todo) // (_POOL_JOBS * 4))
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    if len(st.memo) + len(todo) > MEMO_SIZE:
        st.memo.clear()
    for chunk, res in zip(chunks, _POOL.map(_worker_batch, chunks)):
        st.memo.update(zip(chunk, res))
    if progress:
        progress(len(texts))
    return [st.memo[t] for t in texts]


def _run(texts: list[str], n_jobs: int | None, progress) -> list[str]:
    if not texts:
        return []
    if _POOL is not None and len(texts) >= PARALLEL_MIN_DOCS:
        return _run_pooled(texts, progress)
    jobs = n_jobs or os.cpu_count() or 1
    if jobs <= 1 or len(texts) < PARALLEL_MIN_DOCS:
        st = _state()
        out = []
        for t in texts:
            out.append(st(t))
            if progress:
                progress(1)
        return out
    _state()  # fails with the clear message here, not inside a worker, and caches NLTK's tables for them
    # Chunks sized so that each worker gets several, which evens out long and short posts.
    size = max(16, len(texts) // (jobs * 8))
    chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
    out: list[str] = []
    # Workers from a fork server, not forked from this process: a fork would start each worker
    # with a copy-on-write view of everything this process holds (the whole dataset while
    # training), and Python's reference counts and collector soon copy those pages for real.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("forkserver")) as ex:
        for res in ex.map(_worker_batch, chunks):
            out.extend(res)
            if progress:
                progress(len(res))
    return out


class NltkPreprocessor(TransformerMixin, BaseEstimator):
    """Scikit-learn transformer: raw post text in, lemmatized text out."""

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return preprocess_many(list(X), n_jobs=self.n_jobs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags


# Saved model files name the class by its module: the package's public name, which internal moves
# of this module never change (numpy's ``set_module`` does the same for its functions).
NltkPreprocessor.__module__ = "mhexplain.preprocess"
