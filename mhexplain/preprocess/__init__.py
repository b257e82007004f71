"""NLTK preprocessing for the classical models (see ``pipeline``), and the fast tagger and
lemmatizer tables it runs on.

``NltkPreprocessor`` is saved inside every classical model file under the name
``mhexplain.preprocess.NltkPreprocessor``, so that is where it stays importable from.
"""
from mhexplain.preprocess.pipeline import (
    NON_LETTERS,
    SPLIT_CONTRACTIONS,
    DiskCache,
    NltkPreprocessor,
    clear_memo,
    default_cache_dir,
    lemmas,
    memory_only,
    parallel,
    preprocess_many,
    preprocess_text,
    tokenize_letters,
)

__all__ = ["NON_LETTERS", "SPLIT_CONTRACTIONS", "DiskCache", "NltkPreprocessor", "clear_memo", "default_cache_dir",
           "lemmas", "memory_only", "parallel", "preprocess_many", "preprocess_text", "tokenize_letters"]
