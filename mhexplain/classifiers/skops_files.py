"""Saving and loading scikit-learn pipelines with skops: only the types listed here are loaded,
and nothing is ever unpickled."""
from __future__ import annotations

import sys
from pathlib import Path

from mhexplain.core.errors import ArtifactError

SKOPS_FILE = "model.skops"

# Types a saved classical pipeline may contain; anything else in a .skops file is refused.
SKOPS_ALLOWED = {
    "mhexplain.preprocess.NltkPreprocessor",
    "sklearn.pipeline.Pipeline",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.naive_bayes.MultinomialNB",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.preprocessing._label.LabelBinarizer",
    "builtins.slice",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csr.csr_array",
    "sklearn.utils._tags.Tags",
}


def _skops_io():
    """Import skops.io without its walk over every scikit-learn module.

    When imported, skops lists every scikit-learn estimator as trusted by importing all of
    scikit-learn (over a second here; with torch installed, torch too). mhexplain never relies on
    that default list: it trusts only SKOPS_ALLOWED, checked before every load. So skops is
    imported with an empty estimator list, which makes its own defaults stricter, not looser.
    """
    if "skops.io" not in sys.modules:
        import sklearn.utils

        real = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []
        try:
            import skops.io  # noqa: F401
        finally:
            sklearn.utils.all_estimators = real
    return sys.modules["skops.io"]


def save_skops(pipeline, path: Path) -> None:
    _skops_io().dump(pipeline, path)


def load_skops(path: Path):
    sio = _skops_io()

    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as err:  # skops raises zip/JSON errors of several kinds for a damaged file
        raise ArtifactError(f"{path} is not a readable skops file ({type(err).__name__}).") from None
    refused = untrusted - SKOPS_ALLOWED
    if refused:
        raise ArtifactError(f"{path} contains types mhexplain does not load: {', '.join(sorted(refused))}.")
    try:
        return sio.load(path, trusted=sorted(untrusted))
    except Exception as err:
        raise ArtifactError(f"{path} could not be loaded ({type(err).__name__}: {err}).") from None
