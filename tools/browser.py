"""Drive the real app in headless Chromium: start `streamlit run app.py`, open pages, act.

Uses Debian's /usr/bin/chromium through Playwright (no browser download). Shared by the
end-to-end test, bench/app.py and tools/screenshots.py.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from mhexplain import settings

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for cand in (settings.chromium(), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(models_dir: Path, port: int | None = None, env: dict | None = None, timeout: float = 60,
                address: str | None = "127.0.0.1"):
    """Start the app and yield (url, seconds until its health check answered). ``address=None``
    leaves the listening address to .streamlit/config.toml, as `streamlit run app.py` does."""
    port = port or free_port()
    e = {**os.environ, "MHX_MODELS_DIR": str(models_dir), **(env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
           "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    if address:
        cmd += ["--server.address", address]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {proc.stderr.read()[-2000:]}")
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError("streamlit did not start")
            time.sleep(0.1)
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("Chromium not found: apt-get install chromium (or set MHX_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        try:
            yield page
        finally:
            browser.close()


def open_page(page, url: str, nav_title: str | None = None, timeout: float = 60_000) -> None:
    """Open the app (or one of its pages by its navigation title) and wait for it to render."""
    page.goto(url, timeout=timeout)
    page.get_by_text("Research tool, not a diagnosis").first.wait_for(timeout=timeout)
    if nav_title:
        page.locator('[data-testid="stSidebarNav"]').get_by_text(nav_title, exact=True).click()
        page.get_by_role("heading", name=nav_title).first.wait_for(timeout=timeout)
    wait_idle(page, timeout)


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (its status widget goes away)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def analyze(page, text: str, timeout: float = 60_000) -> float:
    """Paste a post, click Analyze, wait for the predictions; return the seconds it took."""
    page.get_by_label("Post (title and body)").fill(text)
    page.keyboard.press("Control+Enter")  # commit the text area
    t0 = time.perf_counter()
    page.get_by_role("button", name="Analyze").click()
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=timeout)
    wait_idle(page, timeout)
    return time.perf_counter() - t0
