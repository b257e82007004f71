"""``python -m mhexplain.explain``: see mhexplain.cli.explain."""
import os
import sys

from mhexplain.cli.explain import main

__all__ = ["main"]

if __name__ == "__main__":
    # shap compiles its masking kernels with numba in every new process (about 5 s on 2 cores) for a
    # few milliseconds of work per explanation, so a one-shot command runs them as plain Python: the
    # same numbers (tests/test_explain.py compares them). Set before shap, and numba, are imported.
    os.environ.setdefault("NUMBA_DISABLE_JIT", "1")
    # shap imports matplotlib (a third of a second) only to offer plots; this command draws none,
    # and shap goes on without its plots when matplotlib cannot be imported.
    sys.modules.setdefault("matplotlib", None)
    sys.exit(main())
