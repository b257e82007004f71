"""The files and folders a command writes: refused before any work when they cannot be written,
written whole or not at all, and never through a link someone left in the way.

``os.access`` alone cannot tell: for root it says yes to /sys and /proc, where no file can be
created. So a folder counts as writable when a file could really be created in it (an empty
one, removed at once).
"""
from __future__ import annotations

import functools
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from mhexplain.core.errors import ConfigError


def _absolute(path) -> Path:
    # Not resolve(): a link in the way is replaced by the rename, so its own folder is the one written.
    return Path(os.path.abspath(path))


def _can_create_in(folder: Path) -> bool:
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".mhx-write-check-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK) and _can_create_in(folder)


def _os_errors_in_one_line(check):
    """A path the system refuses even to look at (a folder we may not read, a name too long)."""
    @functools.wraps(check)
    def checked(path, what: str, **options):
        try:
            return check(path, what, **options)
        except OSError as err:
            raise ConfigError(f"{what} {path} cannot be used: {err.strerror or type(err).__name__}.") from None
    return checked


@_os_errors_in_one_line
def check_output_dir(path, what: str) -> None:
    """Refuse, before any work, a folder that cannot be created or written."""
    path = _absolute(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is a file, not a folder.")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{what} {path} cannot be created: {parent} is a file.")
    if not _writable(parent):
        raise ConfigError(f"{what} {path} is not writable." if parent == path
                          else f"{what} {path} cannot be created: {parent} is not writable.")


@_os_errors_in_one_line
def same_file(a, b) -> bool:
    """Whether two paths name one file, whether or not it exists yet (links and ``..`` followed)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return a.samefile(b)
    return os.path.realpath(a) == os.path.realpath(b)


def inside(path, folder) -> bool:
    """Whether ``path`` is ``folder`` or lies within it (links followed)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_file(path, what: str, inputs=(), outputs: dict | None = None, protected=()) -> None:
    """Refuse, before any work, a file that cannot be written whole: a folder, a device or pipe,
    one of the command's ``inputs``, another of its ``outputs`` ({flag: path}), a file inside a
    ``protected`` folder (a models folder: only training writes there), or a file in a folder that
    is missing or not writable."""
    path = _absolute(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; name the file to write.")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{what} {path} is not a regular file (a device or a pipe); name a file to write.")
    if any(same_file(path, i) for i in inputs):
        raise ConfigError(f"{what} {path} is the input file; write the results elsewhere.")
    for flag, other in (outputs or {}).items():
        if other is not None and same_file(path, other):
            raise ConfigError(f"{what} {path} is also {flag}; give each output its own file.")
    for folder in protected:
        if inside(path, folder):
            raise ConfigError(f"{what} {path} is inside the models folder {folder}, which only training writes; "
                              "write the results elsewhere.")
    folder = path.parent
    if not folder.exists():
        raise ConfigError(f"{what} {path} cannot be written: its folder {folder} does not exist.")
    if not folder.is_dir():
        raise ConfigError(f"{what} {path} cannot be written: {folder} is not a folder.")
    if not _writable(folder):
        raise ConfigError(f"{what} {path} cannot be written: its folder {folder} is not writable.")


def temp_file_beside(path, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new, empty file in ``path``'s folder, open for writing (descriptor, name): created
    exclusively under a random name, so neither an existing file nor a link is ever written through."""
    path = _absolute(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    return fd, Path(tmp)


def temp_folder_beside(path) -> Path:
    """A new folder that only this user can enter, in ``path``'s folder, for a command's partial files."""
    path = _absolute(path)
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".parts"))


def create_exclusive(path, mode: int = 0o600) -> int:
    """A descriptor for writing a file that must not exist yet (a link in its place is refused too)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)


@contextmanager
def atomic_file(path, newline: str | None = None):
    """A text file to write that becomes ``path`` whole when the block ends, or not at all (a
    temporary file renamed over it, removed on any error)."""
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"Cannot write {path}: {err.strerror or type(err).__name__}.") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all."""
    with atomic_file(path) as f:
        f.write(text)
