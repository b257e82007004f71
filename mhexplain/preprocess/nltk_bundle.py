"""What the preprocessing reads from NLTK's data, kept between processes as one numpy file.

A new process that preprocesses one post (the explanation CLI, a worker) would otherwise import
NLTK, look its data up (a lookup of zipped data also imports huggingface_hub), unzip WordNet's
index files and rebuild the tagger: about half a second on 2 cores before any work. The file
holds the English stopwords, WordNet's lemma names and exception lists, and the tagger's weights
as plain arrays (no pickle). It is named after everything ``nltk.data.path`` is built from and
records the data files and the NLTK installation it was read from with their sizes and
modification times, so changing NLTK_DATA, the data or NLTK builds it anew.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mhexplain.preprocess.fast_lemmatizer import wordnet_source, wordnet_tables
from mhexplain.preprocess.fast_tagger import TAGGER_ARRAYS, tagger_arrays, tagger_source
from mhexplain.preprocess.nltk_resources import ensure_nltk_data

BUNDLE_VERSION = 1
POS = "anrv"


@dataclass
class NltkTables:
    stopwords: list[str]
    wordnet: tuple[dict[str, list[str]], dict[str, list[str]]]  # lemma names, exception lines per POS
    tagger: tuple  # the arrays of fast_tagger.tagger_arrays()


def _environment_key() -> str:
    # The inputs of nltk.data.path (see nltk/data.py), and this file's layout.
    raw = json.dumps([BUNDLE_VERSION, os.environ.get("NLTK_DATA", ""), os.path.expanduser("~/"),
                      "APPENGINE_RUNTIME" in os.environ, os.environ.get("APPDATA", ""), sys.prefix, sys.platform])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def bundle_path(cache_dir: str | os.PathLike) -> Path:
    return Path(cache_dir) / f"nltk-tables-{_environment_key()}.npz"


def _nltk_origin() -> str:
    spec = importlib.util.find_spec("nltk")
    return spec.origin if spec and spec.origin else ""


def _stamp(paths: list[str]) -> list[list]:
    out = []
    for p in paths:
        st = os.stat(p)
        out.append([p, st.st_size, st.st_mtime_ns])
    return out


def _text(a: np.ndarray) -> str:
    return a.tobytes().decode("utf-8")


def _array(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-8"), dtype=np.uint8)


def read_from_nltk() -> tuple[NltkTables, list[str]]:
    """The tables as NLTK's own readers give them, and the files they came from."""
    from nltk.corpus import stopwords

    words = stopwords.words("english")
    root = stopwords.root
    stop_source = root.zipfile.filename if hasattr(root, "zipfile") else os.path.join(root.path, "english")
    sources = [_nltk_origin(), str(stop_source), str(wordnet_source()), str(tagger_source())]
    return NltkTables(list(words), wordnet_tables(), tagger_arrays()), sources


def load_bundle(cache_dir: str | os.PathLike) -> NltkTables | None:
    """The tables from the cache folder, or None when absent, damaged or out of date."""
    try:
        with np.load(bundle_path(cache_dir), allow_pickle=False) as z:
            recorded = json.loads(_text(z["sources"]))
            if not recorded or recorded != _stamp([r[0] for r in recorded]) or recorded[0][0] != _nltk_origin():
                return None
            wordnet = ({p: _text(z[f"names_{p}"]).split("\n") for p in POS},
                       {p: [x for x in _text(z[f"exc_{p}"]).split("\n") if x] for p in POS})
            return NltkTables(_text(z["stopwords"]).split("\n"), wordnet, tuple(z[k] for k in TAGGER_ARRAYS))
    except (OSError, KeyError, ValueError, TypeError, IndexError):
        return None  # absent, torn or written by another layout: rebuilt by the caller


def save_bundle(cache_dir: str | os.PathLike, tables: NltkTables, sources: list[str]) -> None:
    names, exceptions = tables.wordnet
    arrays = {"sources": _array(json.dumps(_stamp(sources))), "stopwords": _array("\n".join(tables.stopwords)),
              **{f"names_{p}": _array("\n".join(names[p])) for p in POS},
              **{f"exc_{p}": _array("\n".join(exceptions[p])) for p in POS},
              **dict(zip(TAGGER_ARRAYS, tables.tagger))}
    try:
        Path(cache_dir).mkdir(mode=0o700, parents=True, exist_ok=True)  # it also holds the posts cache
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, bundle_path(cache_dir))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only cache folder only costs the rebuild next time


def nltk_tables(cache_dir: str | os.PathLike | None) -> NltkTables:
    """The tables, from the cache folder when it holds a current copy; else from NLTK (and saved)."""
    if cache_dir is not None:
        found = load_bundle(cache_dir)
        if found is not None:
            return found
    ensure_nltk_data()
    tables, sources = read_from_nltk()
    if cache_dir is not None:
        save_bundle(cache_dir, tables, sources)
    return tables
