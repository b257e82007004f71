"""NLTK's WordNet lemmatizer without loading WordNet.

``WordNetLemmatizer.lemmatize(word, pos)`` needs only two things from WordNet: which lemma names
exist for each part of speech, and the irregular-form exception lists. NLTK's corpus reader
parses every synset offset of every index file (over 3 s); reading the first column of the same
files takes a tenth of that. The rules, the candidate order and the shortest-lemma choice are
NLTK's own (``WordNetCorpusReader._morphy``); tests compare the two word for word.
"""
from __future__ import annotations

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


def _lines(name: str):
    import nltk

    with nltk.data.find(f"corpora/wordnet/{name}").open() as f:
        for raw in f:
            yield raw.decode("utf-8") if isinstance(raw, bytes) else raw


class FastWordNetLemmatizer:
    def __init__(self) -> None:
        self.lemmas: dict[str, frozenset[str]] = {}
        self.exceptions: dict[str, dict[str, list[str]]] = {}
        for pos, suffix in _FILES.items():
            # Index lines start with the lemma; the licence header lines start with a space.
            self.lemmas[pos] = frozenset(line.split(" ", 1)[0] for line in _lines(f"index.{suffix}")
                                         if line and not line.startswith(" "))
            exc = {}
            for line in _lines(f"{suffix}.exc"):
                terms = line.split()
                if terms:
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
