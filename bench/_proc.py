"""What the bench scripts share: the dataset option, and running a command measured (its wall time
and the peak RSS of its whole process tree). Importing it puts the project on ``sys.path``."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project, for mhexplain

from mhexplain.cli.args import option  # noqa: E402
from mhexplain.datasets.split import DEFAULT_PROTOCOL, PROTOCOLS  # noqa: E402
from mhexplain.settings import dataset_path  # noqa: E402


@dataclass
class Dataset:
    data: Path | None = option(dataset_path, "the dataset CSV (default: the one python -m train reads: MHX_DATA, "
                                             "else data/data_to_be_cleansed.csv)")

    def problems(self) -> list[str]:
        return [] if self.data else ["no data: pass --data PATH or set MHX_DATA"]


@dataclass
class TrainingRun(Dataset):
    """The options every training benchmark takes: the dataset and the protocol."""

    protocol: str = option(DEFAULT_PROTOCOL, "evaluation protocol", choices=PROTOCOLS)


def _pss_bytes(pid: int) -> int:
    """A process's proportional set size: its own pages, plus its share of pages it shares with
    other processes (forked or fork-server workers share their parent's), so that a tree's PSS
    adds up to the memory it really holds, where RSS counts every shared page once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_rss_bytes(root: int, measure=None) -> int:
    """The RSS (or ``measure(pid)``) of ``root`` and all its descendants, summed."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(parts[1]), int(parts[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
        rss[int(name)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += measure(pid) if measure else rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_measured(cmd: list[str], env: dict | None = None, cwd: str | None = None, log: str | None = None) -> dict:
    """``log``: stream the command's output to this file instead of capturing it."""
    t0 = time.perf_counter()
    sink = open(log, "w") if log else subprocess.PIPE
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, text=True)
    peak = peak_pss = 0
    stop = threading.Event()

    def sample():
        nonlocal peak, peak_pss
        while not stop.is_set():
            peak = max(peak, _tree_rss_bytes(proc.pid))
            peak_pss = max(peak_pss, _tree_rss_bytes(proc.pid, _pss_bytes))
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    if log:
        sink.close()
        out = open(log).read()
    stop.set()
    th.join()
    return {"seconds": time.perf_counter() - t0, "peak_rss_mib": peak / 2**20, "peak_pss_mib": peak_pss / 2**20,
            "returncode": proc.returncode,
            "output": out}


def run_cli(cmd: list[str], seconds_pattern: str) -> dict:
    """Run one of the project's CLIs as a user would (project on PYTHONPATH), measured; exits
    with its output on failure. ``inner_seconds``: the time the CLI printed itself (the first
    group of ``seconds_pattern``), which leaves out start-up and model loading."""
    r = run_measured(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT))
    if r["returncode"] != 0:
        raise SystemExit(r["output"][-2000:])
    r["inner_seconds"] = float(re.search(seconds_pattern, r["output"]).group(1))
    return r
