"""The `slow` marker that `make test-fast` selects on: which tests tests/conftest.py marks."""
import subprocess
import sys

from . import conftest
from .helpers import ROOT

# Files with a test of each kind: in a slow module; using a slow fixture through another fixture;
# named as slow; not slow.
FILES = ["tests/test_e2e_browser.py", "tests/test_app_logic.py", "tests/test_score.py", "tests/test_train.py",
         "tests/test_metrics.py", "tests/test_byo_dataset.py"]


def _collected(*selections: str) -> list[set[str]]:
    """The test ids ``pytest -m <selection>`` collects from FILES, for each selection (the
    collections run side by side)."""
    runs = [subprocess.Popen([sys.executable, "-m", "pytest", "--collect-only", "--verbosity=-1", "-p",
                              "no:cacheprovider", "-m", s, *FILES], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=ROOT) for s in selections]
    outs = [(run.communicate()[0], run.returncode) for run in runs]
    assert [rc for _, rc in outs] == [0] * len(runs), outs
    return [{line for line in out.splitlines() if "::" in line} for out, _ in outs]


def test_the_slow_modules_and_fixtures_exist():
    """A renamed module or fixture would silently leave its tests in the fast subset."""
    for module in conftest.SLOW_MODULES:
        assert (ROOT / "tests" / module).is_file(), module
    for fixture in conftest.SLOW_FIXTURES:
        assert callable(getattr(conftest, fixture, None)), fixture


def test_fast_and_slow_split_the_tests_where_conftest_says():
    slow, fast = _collected("slow", "not slow")
    assert slow and fast and not slow & fast
    browser = {t for t in slow | fast if t.startswith(FILES[0])}
    assert browser and browser <= slow  # a slow module: every test in it
    # uses three_models_dir through the file's `results` fixture, not by name
    assert "tests/test_app_logic.py::test_summary_and_per_class_tables" in slow
    assert "tests/test_app_logic.py::test_pairwise_tests_cover_every_pair" in fast
    # every test named slow exists (every case of a parametrized one is slow); its neighbours are not
    assert {f"tests/{t}" for t in conftest.SLOW_TESTS} <= {t.split("[")[0] for t in slow}
    assert {t for t in slow | fast if "test_bad_data_one_line_error" in t} <= slow
    assert "tests/test_train.py::test_same_seed_same_models" in fast
    assert not {t for t in slow if t.startswith("tests/test_metrics.py")}
    assert "tests/test_metrics.py::test_bootstrap_is_seeded" in fast
