"""Progress of a long command, on a terminal and in a log alike.

On a terminal: a tqdm bar. Otherwise (output sent to a file or a pipe) a bar would write carriage
returns into the log, or nothing at all, so a plain line is printed every ``EVERY_SECONDS``
instead, from a timer: the line comes even while one slow step (a chunk of BERT predictions, a
model loading) has not reported yet. A last line comes when the work is done.
"""
from __future__ import annotations

import sys
import threading
import time

EVERY_SECONDS = 5.0


class Progress:
    """``update(n)`` as work is done, ``stage(text)`` to say what is being done; use as a context."""

    def __init__(self, what: str, unit: str, total: int | None = None, enabled: bool = True, stream=None):
        self.what, self.unit, self.total = what, unit, total
        self.stream = stream or sys.stderr
        self.done, self.step, self.t0 = 0, "", time.monotonic()
        self._bar = self._ticker = None
        self._stop = threading.Event()
        if not enabled:
            return
        if _is_terminal(self.stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=what, unit=unit, total=total, file=self.stream)
        else:
            self._ticker = threading.Thread(target=self._tick, args=(EVERY_SECONDS,), daemon=True)
            self._ticker.start()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def stage(self, text: str) -> None:
        self.step = text
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def line(self) -> str:
        """What the log shows: how far, of how much, for how long, how fast, doing what."""
        seconds = time.monotonic() - self.t0
        of = f" of {self.total:,}" if self.total is not None else ""
        rate = f", {self.done / seconds:,.0f} {self.unit}s/s" if self.done and seconds > 0 else ""
        doing = f" ({self.step})" if self.step else ""
        return f"{self.what}: {self.done:,}{of} {self.unit}s after {seconds:.0f} s{rate}{doing}"

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            print(self.line(), file=self.stream, flush=True)

    def close(self, finished: bool = True) -> None:
        """Stop reporting. In a log, ``finished`` work ends with one last line, so that even a
        command shorter than ``EVERY_SECONDS`` says how much it did (work that failed, or did
        nothing, ends with its error instead)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            if finished and self.done:
                print(self.line(), file=self.stream, flush=True)
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(finished=exc_type is None)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False
