"""Errors that carry a one-line message meant for the user, not a traceback."""
import shlex

from mhexplain.settings import dataset_path


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


def train_command(models_dir, names=()) -> str:
    """The command that trains ``names`` (all models when empty) into ``models_dir``, for messages
    that tell the user how to get a model that is not there."""
    models = f" --models {','.join(names)}" if names else ""
    found = dataset_path()
    # Where train finds the dataset by itself, the command can be pasted as it is.
    data = "" if found is not None and found.is_file() else " --data PATH"
    return f"python -m train{data} --out {shlex.quote(str(models_dir))}{models}"
