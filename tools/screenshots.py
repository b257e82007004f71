"""Screenshots of every page of the real app for the README (docs/screenshots/*.png).

    python tools/screenshots.py --models-dir models --out docs/screenshots

Only pages that show no dataset post are captured with models trained on the real data
(Overview, Analyze with a post written for this, Compare, Batch with a made-up CSV); the Error
explorer lists test posts, so it is captured with models trained on the synthetic posts of
tests/helpers.py (trained here into a temporary folder unless --explorer-models-dir names one), to
keep real posts out of the repository.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.browser import analyze, browser_page, open_page, running_app, wait_idle  # noqa: E402

POST = ("Some weeks I barely sleep and start ten projects at once, then I crash and can't get out of bed. "
        "My psychiatrist mentioned mood swings. Is this what mania feels like?")
CSV = ("title,text,target\nExams,Deadlines everywhere and my boss keeps adding more work,0\n"
       "Mood,Manic again: no sleep for three days and spending money I don't have,2\n"
       "Heart,Panic attack in the supermarket and my heart would not slow down,4\n")


def synthetic_models(out: Path) -> Path:
    """NB + LR trained on the tests' synthetic posts, in a temporary folder: no real post is shown."""
    import tempfile

    from tests.helpers import synthetic_posts
    from train.api import run
    from train.config import TrainConfig

    tmp = Path(tempfile.mkdtemp(prefix="mhx-screenshots-"))
    synthetic_posts().to_csv(tmp / "synthetic.csv", index=False)
    run(TrainConfig(data=tmp / "synthetic.csv", out=tmp / "models", n_jobs=1, cache_dir=tmp / "cache"))
    return tmp / "models"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models-dir", default="models")
    p.add_argument("--explorer-models-dir", help="models trained on synthetic posts (default: trained now)")
    p.add_argument("--out", default="docs/screenshots")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with browser_page(1400, 2200) as page:
        with running_app(Path(a.models_dir).resolve()) as (url, _):
            open_page(page, url)
            page.screenshot(path=str(out / "overview.png"), full_page=True)
            open_page(page, url, "Analyze a post")
            analyze(page, POST)
            page.get_by_role("button", name="Explain with every model").click()
            page.get_by_text("comprehensiveness").first.wait_for(timeout=120_000)
            wait_idle(page, 180_000)
            page.screenshot(path=str(out / "analyze.png"), full_page=True)
            open_page(page, url, "Compare models")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "compare.png"), full_page=True)
            open_page(page, url, "Batch scoring")
            tmp = out / "_upload.csv"
            tmp.write_text(CSV)
            page.locator('input[type="file"]').first.set_input_files(str(tmp))
            page.get_by_text("Metrics on this file").wait_for(timeout=60_000)
            wait_idle(page)
            tmp.unlink()
            page.screenshot(path=str(out / "batch.png"), full_page=True)
        with running_app(Path(a.explorer_models_dir or synthetic_models(out)).resolve()) as (url, _):
            open_page(page, url, "Error explorer")
            page.screenshot(path=str(out / "errors.png"), full_page=True)
    for f in sorted(out.glob("*.png")):
        print(f, f.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
