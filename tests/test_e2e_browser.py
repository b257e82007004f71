"""End to end in a real browser: `streamlit run app.py`, Chromium pastes a post, predictions appear."""
import time

import pandas as pd
import pytest

from mhexplain.core.textsafe import WORD_JOINER
from tools.browser import analyze, browser_page, chromium_path, open_page, running_app, wait_idle

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="Chromium not installed (apt-get install chromium)")


def test_paste_a_post_and_see_three_predictions(three_models_dir, tmp_path):
    with running_app(three_models_dir) as (url, _), browser_page() as page:
        open_page(page, url, "Analyze a post")
        analyze(page, "Panic attack at work again, my heart was racing and I felt so anxious")
        metrics = page.locator('[data-testid="stMetric"]')
        assert metrics.count() == 3
        labels = " ".join(metrics.all_inner_texts())
        for name in ("Naive Bayes", "Logistic Regression", "BERT"):
            assert name in labels
        shot = tmp_path / "analyze.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port``, read from /proc (no traffic is sent)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:  # 0A: LISTEN
                out.add(addr)
    return out


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc writes them


def test_streamlit_run_listens_on_localhost_only(three_models_dir):
    from tools.browser import free_port

    port = free_port()
    with running_app(three_models_dir, port=port, address=None):  # only .streamlit/config.toml decides
        found = _listening_addresses(port)
    if not found:
        pytest.skip("no /proc/net tables here")
    assert found <= LOOPBACK, found


def test_a_hostile_upload_fetches_nothing_and_shows_no_markup(three_models_dir, tmp_path):
    # A file name is shown in the error: it is the visitor's text, here markdown and HTML that would fetch.
    name = "![t](evil-track.png) <img src=evil-img.png> :red[x].csv"
    evil = tmp_path / name
    evil.write_bytes(b'![t](evil-header.png) <img src="evil-header2.png">,body\nx,y\n')
    with running_app(three_models_dir) as (url, _), browser_page() as page:
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        open_page(page, url, "Batch scoring")
        page.locator('input[type="file"]').first.set_input_files(str(evil))
        alert = page.get_by_text("has no column named")
        alert.wait_for(timeout=60_000)
        assert page.locator('img[src*="evil"]').count() == 0
        assert not [u for u in requests if "evil" in u]
        # shown as the text it is (the invisible word joiner keeps ":red[" from being a colour directive)
        shown = page.inner_text("body").replace(WORD_JOINER, "")
        assert f"{name} has no column named 'text' (the posts)" in shown


def test_a_page_url_opened_first_on_a_fresh_server_is_inside_the_apps_frame(trained_dir):
    # The first visit a fresh server gets is straight to a page's URL, not to the front page.
    with running_app(trained_dir) as (url, _), browser_page() as page:
        page.goto(f"{url}/compare", timeout=60_000)
        page.get_by_role("heading", name="Compare models").first.wait_for(timeout=60_000)
        wait_idle(page)
        assert page.get_by_text("Research tool, not a diagnosis").count() == 1
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "Models folder" in sidebar and "Batch scoring" in sidebar and "Overview" in sidebar


def _shown_without_links(page, texts: list[str]) -> None:
    assert page.locator('a[href*="evil"]').count() == 0
    shown = page.inner_text("body").replace("\u2060", "")  # the invisible joiners that stop autolinks
    assert [t for t in texts if t not in shown] == []


def test_addresses_in_file_names_and_label_values_are_text_not_links(trained_dir, tmp_path):
    labels = ["https://evil-label.invalid/x", "www.evil-label.invalid", "someone@evil-label.invalid"]
    f = tmp_path / "from www.evil-name.invalid to me@evil-name.invalid.csv"
    f.write_text("body,sub\n" + "\n".join(f"post number {i},{lab}" for i, lab in enumerate(labels * 2)) + "\n")
    with running_app(trained_dir) as (url, _), browser_page() as page:
        open_page(page, url, "Batch scoring")
        page.locator('input[type="file"]').first.set_input_files(str(f))  # no text column: an error names the file
        page.get_by_text("has no column named").wait_for(timeout=60_000)
        _shown_without_links(page, [f"{f.name} has no column named 'text'"])
        page.get_by_role("tab", name="External validation").click()
        page.locator('input[type="file"]').nth(1).set_input_files(str(f))
        page.get_by_role("button", name="Evaluate").wait_for(timeout=60_000)
        wait_idle(page)
        _shown_without_links(page, labels)


def _body_once_it_holds(page, *texts: str, seconds: float = 60) -> str:
    """The page's text once it holds every one of ``texts`` (or after ``seconds``), word joiners removed."""
    deadline = time.monotonic() + seconds
    while True:
        shown = page.inner_text("body").replace(WORD_JOINER, "")
        if all(t in shown for t in texts) or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(250)


def test_a_binary_folder_with_coders_in_the_browser(binary_dir, tmp_path):
    """A dataset of the visitor's own: two classes named by them, split by author, three coders."""
    post = pd.read_csv(binary_dir / "lr" / "predictions.csv", keep_default_na=False)["text"].iloc[0]
    with running_app(binary_dir) as (url, _), browser_page() as page:
        open_page(page, url, "Compare models")
        page.get_by_role("heading", name="Agreement with human coders").wait_for(timeout=60_000)
        # the section's table and sentences render after its heading: wait for them, not the heading alone
        shown = _body_once_it_holds(page, "Krippendorff's α between the coders", "lr's mean Cohen's κ with the coders")
        assert "Dataset: risk.csv, 2 classes: no risk, at risk; split by author" in shown
        assert "Krippendorff's α between the coders" in shown and "lr's mean Cohen's κ with the coders" in shown
        open_page(page, url, "Analyze a post")
        analyze(page, post)
        metrics = page.locator('[data-testid="stMetric"]')
        assert metrics.count() == 2
        assert all("No risk" in t or "At risk" in t for t in metrics.all_inner_texts())
        shot = tmp_path / "binary.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
