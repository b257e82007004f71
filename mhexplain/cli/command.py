"""How every command ends: what it did on standard output, or one line saying why not, status 2."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from mhexplain.core.errors import MhxError
from mhexplain.core.textsafe import printable

T = TypeVar("T")


def refuse(message: str) -> int:
    """Print ``error: <message>`` (escaped) on standard error; the exit status of a refusal."""
    print(f"error: {printable(message)}", file=sys.stderr)
    return 2


def run_command(work: Callable[[], T], report: Callable[[T], int | None],
                writing: Iterable[Path | str | None] = ()) -> int:
    """Do ``work``, then ``report`` what it returned (its exit status; None is 0).

    A refusal (``MhxError``: bad input, a missing model, an unusable output path) is one line and
    status 2, and so is an ``OSError`` while the command writes its output files (``writing``: the
    disk filled up, the folder went away); any other error is a bug and keeps its traceback.
    ``report`` runs outside, so a failure to print is never taken for a failure to write.
    """
    outputs = [Path(p) for p in writing if p]
    try:
        result = work()
    except MhxError as err:
        return refuse(str(err))
    except OSError as err:
        if not outputs:
            raise
        return refuse(f"writing {' and '.join(map(str, outputs))} failed: {err.strerror or err}")
    status = report(result)
    return 0 if status is None else status
