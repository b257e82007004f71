"""End to end in a real browser: `streamlit run app.py`, Chromium pastes a post, predictions appear."""
import pytest

from tools.browser import analyze, browser_page, chromium_path, open_page, running_app

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
