"""Finding (or fetching) the NLTK data the classical preprocessing needs."""
from __future__ import annotations

import functools
import os

from .errors import NltkDataError

# (resource path for nltk.data.find, downloader package id)
RESOURCES = (
    ("taggers/averaged_perceptron_tagger_eng/", "averaged_perceptron_tagger_eng"),
    ("corpora/stopwords/english", "stopwords"),
    ("corpora/wordnet/", "wordnet"),
)


def _missing() -> list[tuple[str, str]]:
    import nltk

    out = []
    for path, pkg in RESOURCES:
        try:
            nltk.data.find(path)
        except LookupError:
            out.append((path, pkg))
    return out


@functools.lru_cache(maxsize=1)
def ensure_nltk_data(download: bool | None = None) -> None:
    """Raise NltkDataError naming what is missing, after trying NLTK's downloader once.

    ``download`` defaults to True unless MHX_NO_NLTK_DOWNLOAD is set (CI and offline machines).
    """
    missing = _missing()
    if not missing:
        return
    if download is None:
        download = not os.environ.get("MHX_NO_NLTK_DOWNLOAD")
    if download:
        import nltk

        for _, pkg in missing:
            try:
                nltk.download(pkg, quiet=True, raise_on_error=False)
            except Exception:  # the downloader raises assorted network errors; we report below
                pass
        missing = _missing()
    if missing:
        names = ", ".join(pkg for _, pkg in missing)
        raise NltkDataError(
            f"NLTK data missing: {names}. Run: python -m nltk.downloader {' '.join(p for _, p in missing)} "
            "(or point NLTK_DATA at a folder that holds them)."
        )
