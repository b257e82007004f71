"""The rules docs/ARCHITECTURE.md states about the code, checked on the code itself: the layer table
matches the folders, each layer imports only the layers under it, no import circles, no project
import inside a function, environment variables read in one module, short functions."""
import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from .helpers import ROOT

ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
PROJECT_PACKAGES = ("mhexplain", "webapp", "train")
MAX_FUNCTION_LINES = 80


def _layers() -> list[tuple[str, list[str]]]:
    """(layer, its folders) from the layer table, bottom layer first."""
    rows = []
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] and re.fullmatch(r"\d+", cells[0]):
            rows.append((cells[1], re.findall(r"`([\w/.]+)`", cells[2])))
    return rows


def _modules() -> dict[str, Path]:
    out = {}
    for package in PROJECT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(module imported, whether inside a function, line) for every project or lazy import."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append((child.module, in_function, child.lineno))
                found.extend((f"{child.module}.{a.name}", in_function, child.lineno) for a in child.names)
            visit(child, inside)

    visit(tree, False)
    return found


MODULES = _modules()


def _project_imports(name: str) -> set[str]:
    return {m for m, _, _ in _imports(MODULES[name]) if m in MODULES and m != name}


def _layer_of(module: str, layers) -> int | None:
    path = MODULES[module].relative_to(ROOT).as_posix()
    best = None
    for k, (_, folders) in enumerate(layers):
        for folder in folders:
            folder = folder.rstrip("/")
            if path == folder or path.startswith(folder + "/"):
                if best is None or len(folder) > best[1]:
                    best = (k, len(folder))
    return None if best is None else best[0]


def test_the_layer_table_names_every_module_and_folder():
    layers = _layers()
    assert len(layers) >= 8, "docs/ARCHITECTURE.md lost its numbered layer table"
    unplaced = [m for m in MODULES if _layer_of(m, layers) is None]
    assert unplaced == []
    missing = [f for _, folders in layers for f in folders if not (ROOT / f.rstrip("/")).exists()]
    assert missing == []


def test_each_layer_imports_only_the_layers_under_it():
    layers = _layers()
    upward = []
    for name in MODULES:
        mine = _layer_of(name, layers)
        for other in _project_imports(name):
            theirs = _layer_of(other, layers)
            if theirs is not None and theirs > mine:
                upward.append(f"{name} ({layers[mine][0]}) imports {other} ({layers[theirs][0]})")
    assert upward == []


def test_no_import_circles():
    graph = {name: _project_imports(name) for name in MODULES}
    state, cycles = defaultdict(int), []

    def walk(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif state[nxt] == 0:
                walk(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if state[name] == 0:
            walk(name, [name])
    # a package's __init__ re-exporting its own modules is no circle
    cycles = [c for c in cycles if not all(p.startswith(c.split(" -> ")[0]) for p in c.split(" -> "))]
    assert cycles == []


def test_no_project_import_inside_a_function():
    """An import inside a function hid two circles; only heavy optional dependencies (torch, shap...)
    are imported where they are needed."""
    inside = [f"{name}:{line} imports {mod}" for name, path in MODULES.items()
              for mod, in_function, line in _imports(path) if in_function and mod.split(".")[0] in PROJECT_PACKAGES]
    assert inside == []


def test_environment_variables_are_read_in_the_settings_module_only():
    readers = []
    scripts = {str(p.relative_to(ROOT)): p for folder in ("bench", "tools") for p in (ROOT / folder).rglob("*.py")}
    for name, path in {**MODULES, **scripts}.items():
        if name == "mhexplain.settings":
            continue
        for line_no, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"environ(\.get)?\s*[\[(]\s*[\"']MHX_|getenv\(\s*[\"']MHX_", line):
                readers.append(f"{name}:{line_no}")
    assert readers == []


def test_only_the_app_imports_streamlit():
    users = [name for name, path in MODULES.items()
             if any(m == "streamlit" or m.startswith("streamlit.") for m, _, _ in _imports(path))]
    assert users and all(u.startswith("webapp") for u in users), users


@pytest.mark.parametrize("folder", ["mhexplain", "webapp", "train", "bench", "tools", "tests"])
def test_no_function_is_longer_than_80_lines(folder):
    long = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert long == []


def test_the_import_scanner_sees_what_it_checks(tmp_path):
    """The checks above pass vacuously if the scanner finds nothing: it must see imports at both levels."""
    f = tmp_path / "m.py"
    f.write_text("import mhexplain.settings\n\ndef g():\n    from mhexplain.core import errors\n")
    assert _imports(f) == [("mhexplain.settings", False, 1), ("mhexplain.core", True, 4),
                           ("mhexplain.core.errors", True, 4)]
    assert "mhexplain.core.errors" in _project_imports("mhexplain.core.classifier")


def test_every_kind_names_a_loader_and_a_trainer_that_exist():
    """Trainers are named by path (the catalog sits under the training layer): an import the
    checks above cannot see, so each is resolved here."""
    from mhexplain.classifiers.catalog import KINDS, MODELS, resolve

    for kind in KINDS.values():
        trainer = resolve(kind.trainer)
        assert callable(kind.loader) and callable(trainer.train) and callable(trainer.stages), kind.name
        assert kind.trainer.partition(":")[0] in MODULES and kind.model_files
    assert {m.kind for m in MODELS.values()} == set(KINDS)
