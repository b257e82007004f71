"""Explanations cached by (key version, model artifact hash, text, method, target, budget, seed, max
units, settings)."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

from mhexplain.core.classifier import fingerprint
from mhexplain.explain.result import Explanation

# Raised whenever the engine would explain the same request differently, so that no stale entry on
# disk answers it. 2: words the model does not see are no features (weight 0, ``visible``).
KEY_VERSION = 2


class ExplanationCache:
    """Explanations in memory (the ``max_items`` most recently used) and, with ``directory``, as
    JSON files there.

    It keeps copies and hands out copies: what a caller does to the Explanation it got (the
    engine marks it ``cached``) never changes what the next caller gets. Explanations are small:
    copying one of 300 words takes about half a millisecond.
    """

    def __init__(self, max_items: int = 256, directory: str | os.PathLike | None = None) -> None:
        self.max_items = max_items
        self.directory = Path(directory) if directory else None
        self._mem: OrderedDict[str, Explanation] = OrderedDict()
        self._lock = threading.Lock()  # the app shares one cache between its sessions' threads

    @staticmethod
    def key(clf, text: str, method: str, target, budget: int, seed: int, max_units: int,
            params: dict | None = None) -> str:
        raw = json.dumps([KEY_VERSION, fingerprint(clf), text, method, target, budget, seed, max_units,
                          sorted((params or {}).items())])
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> Explanation | None:
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return copy.deepcopy(self._mem[key])
        if self.directory:
            p = self.directory / f"{key}.json"
            if p.is_file():
                try:
                    exp = Explanation.from_dict(json.loads(p.read_text()))
                except (ValueError, TypeError, KeyError):
                    return None
                self._put_mem(key, exp)  # a copy: ``exp`` is the caller's
                return exp
        return None

    def put(self, key: str, exp: Explanation) -> None:
        self._put_mem(key, exp)
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{key}.tmp"
            tmp.write_text(exp.to_json())
            tmp.replace(self.directory / f"{key}.json")

    def _put_mem(self, key: str, exp: Explanation) -> None:
        exp = copy.deepcopy(exp)
        with self._lock:
            self._mem[key] = exp
            self._mem.move_to_end(key)
            while len(self._mem) > self.max_items:
                self._mem.popitem(last=False)

    def __len__(self) -> int:
        return len(self._mem)
