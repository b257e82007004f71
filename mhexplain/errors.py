"""Errors that carry a one-line message meant for the user, not a traceback."""


class MhxError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence."""


class DataError(MhxError):
    """The input data cannot be used (missing, malformed, wrong labels...)."""


class ArtifactError(MhxError):
    """A model folder is missing, incomplete, corrupt or was modified."""


class NltkDataError(MhxError):
    """NLTK resources needed for preprocessing are missing."""


class InputTextError(MhxError):
    """A post given for prediction or explanation is unusable (empty, not text)."""


class ConfigError(MhxError):
    """A setting or command-line option cannot work (an output path that is a file, a bad value)."""
