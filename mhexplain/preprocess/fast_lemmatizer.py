"""NLTK's WordNet lemmatizer without loading WordNet.

``WordNetLemmatizer.lemmatize(word, pos)`` needs only two things from WordNet: which lemma names
exist for each part of speech, and the irregular-form exception lists. NLTK's corpus reader
parses every synset offset of every index file (over 3 s); reading the first column of the same
files takes a tenth of that. The rules, the candidate order and the shortest-lemma choice are
NLTK's own (``WordNetCorpusReader._morphy``); tests compare the two word for word.
"""
from __future__ import annotations

from pathlib import Path

# WordNet file suffix per part of speech, as NLTK's reader names them (its _FILEMAP).
_FILES = {"a": "adj", "r": "adv", "n": "noun", "v": "verb"}

# NLTK's WordNetCorpusReader.MORPHOLOGICAL_SUBSTITUTIONS, in its order (the order decides ties).
SUBSTITUTIONS = {
    "n": [("s", ""), ("ses", "s"), ("ves", "f"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
          ("men", "man"), ("ies", "y")],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}


def _pointer(name: str):
    import nltk

    return nltk.data.find(f"corpora/wordnet/{name}")


def wordnet_source() -> Path:
    """The file WordNet comes from (its folder's index file or the zip), for cache validation."""
    loc = _pointer("index.noun")
    return Path(loc.zipfile.filename if hasattr(loc, "zipfile") else loc.path)


def wordnet_tables() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per part of speech: the lemma names, and the exception-list lines, as WordNet's files hold them."""
    names, exceptions = {}, {}
    for pos, suffix in _FILES.items():
        # Index lines start with the lemma; the licence header lines start with a space.
        names[pos] = [line.split(" ", 1)[0] for line in _lines(f"index.{suffix}")
                      if line and not line.startswith(" ")]
        exceptions[pos] = [line for line in (raw.strip() for raw in _lines(f"{suffix}.exc")) if line]
    return names, exceptions


def _lines(name: str):
    with _pointer(name).open() as f:
        for raw in f:
            yield raw.decode("utf-8") if isinstance(raw, bytes) else raw


class FastWordNetLemmatizer:
    def __init__(self, tables=None) -> None:
        """``tables``: what ``wordnet_tables()`` returns (read from NLTK's data when not given)."""
        names, exc_lines = tables if tables is not None else wordnet_tables()
        self.lemmas: dict[str, frozenset[str]] = {pos: frozenset(names[pos]) for pos in _FILES}
        self.exceptions: dict[str, dict[str, list[str]]] = {}
        for pos in _FILES:
            exc = {}
            for line in exc_lines[pos]:
                terms = line.split()
                exc[terms[0]] = terms[1:]
            self.exceptions[pos] = exc

    def morphy(self, form: str, pos: str) -> list[str]:
        """The lemmas WordNet has for ``form`` as ``pos``, in NLTK's order."""
        exc = self.exceptions[pos]
        if form in exc:
            forms = exc[form]
        else:
            forms = [form[: -len(old)] + new for old, new in SUBSTITUTIONS[pos] if form.endswith(old)]
        known, out = self.lemmas[pos], []
        for f in [form] + forms:
            if f in known and f not in out:
                out.append(f)
        return out

    def lemmatize(self, word: str, pos: str = "n") -> str:
        found = self.morphy(word, pos)
        return min(found, key=len) if found else word
