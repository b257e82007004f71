"""Run a command and record its wall time and the peak RSS of its whole process tree."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project, for mhexplain


def _tree_rss_bytes(root: int) -> int:
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
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_measured(cmd: list[str], env: dict | None = None, cwd: str | None = None, log: str | None = None) -> dict:
    """``log``: stream the command's output to this file instead of capturing it."""
    t0 = time.perf_counter()
    sink = open(log, "w") if log else subprocess.PIPE
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, text=True)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_bytes(proc.pid))
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, _ = proc.communicate()
    if log:
        sink.close()
        out = open(log).read()
    stop.set()
    th.join()
    return {"seconds": time.perf_counter() - t0, "peak_rss_mib": peak / 2**20, "returncode": proc.returncode,
            "output": out}


def base_parser():
    """The options every training benchmark takes: the dataset and the protocol."""
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--data", default=default_data())
    p.add_argument("--protocol", default="leakage-free")
    return p


def default_data() -> str:
    """The dataset ``python -m train`` would read (mhexplain.settings.dataset_path); "" when none."""
    from mhexplain.settings import dataset_path

    found = dataset_path()
    return str(found) if found else ""


def run_cli(cmd: list[str], seconds_pattern: str) -> dict:
    """Run one of the project's CLIs as a user would (project on PYTHONPATH), measured; exits
    with its output on failure. ``inner_seconds``: the time the CLI printed itself (the first
    group of ``seconds_pattern``), which leaves out start-up and model loading."""
    import re

    root = Path(__file__).resolve().parents[1]
    r = run_measured(cmd, env={**os.environ, "PYTHONPATH": str(root)}, cwd=str(root))
    if r["returncode"] != 0:
        raise SystemExit(r["output"][-2000:])
    r["inner_seconds"] = float(re.search(seconds_pattern, r["output"]).group(1))
    return r
