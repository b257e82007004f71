"""Finding (or fetching) the NLTK data the classical preprocessing needs."""
from __future__ import annotations

import functools
import io

from mhexplain.core.errors import NltkDataError
from mhexplain.settings import NO_NLTK_DOWNLOAD_ENV, nltk_download_allowed

# (resource path for nltk.data.find, downloader package id)
RESOURCES = (
    ("taggers/averaged_perceptron_tagger_eng/", "averaged_perceptron_tagger_eng"),
    ("corpora/stopwords/english", "stopwords"),
    ("corpora/wordnet/", "wordnet"),
)
# Packages the downloader already failed to fetch in this process: offline, every try costs its
# network timeout, and the app would pay it again on every page that preprocesses.
_FAILED: set[str] = set()


def _missing() -> list[tuple[str, str]]:
    import nltk

    out = []
    for path, pkg in RESOURCES:
        try:
            nltk.data.find(path)
        except LookupError:
            out.append((path, pkg))
    return out


def _download_quietly(packages: list[str]) -> None:
    """Try NLTK's downloader, keeping its messages to ourselves: offline, it prints four wrapped
    lines per package, and the one line that says what to do comes from the caller. (quiet=True
    silences all but its errors, which go to ``print_error_to``.) The first failure ends the
    attempt: the next package would wait on the same network, up to NLTK's 120 s timeout."""
    import nltk

    sink = io.StringIO()
    for pkg in packages:
        try:
            if not nltk.download(pkg, quiet=True, raise_on_error=False, print_error_to=sink):
                return
        except Exception:  # the downloader raises assorted network errors; the caller reports
            return


def missing_message(packages: list[str], tried_download: bool) -> str:
    """One line: what is missing, and the three ways to provide it."""
    import nltk

    names = " ".join(packages)
    why = "NLTK's downloader could not fetch them (offline?)" if tried_download else f"{NO_NLTK_DOWNLOAD_ENV} is set"
    folder = nltk.data.path[0] if nltk.data.path else "~/nltk_data"
    return (f"NLTK data missing: {', '.join(packages)}; {why}. Set NLTK_DATA to a folder that holds them, copy "
            f"them into one of NLTK's folders (e.g. {folder}), or run `python -m nltk.downloader {names}` on a "
            f"connected machine; {NO_NLTK_DOWNLOAD_ENV}=1 skips the download attempt.")


@functools.lru_cache(maxsize=1)
def ensure_nltk_data(download: bool | None = None) -> None:
    """Raise NltkDataError naming what is missing, after trying NLTK's downloader once.

    ``download`` defaults to True unless MHX_NO_NLTK_DOWNLOAD is set (CI and offline machines).
    """
    missing = _missing()
    if not missing:
        return
    if download is None:
        download = nltk_download_allowed()
    untried = [pkg for _, pkg in missing if pkg not in _FAILED]
    if download and untried:
        _download_quietly(untried)
        missing = _missing()
        _FAILED.update(pkg for _, pkg in missing)
    if missing:
        raise NltkDataError(missing_message([pkg for _, pkg in missing], download))
