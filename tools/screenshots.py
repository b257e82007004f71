"""Screenshots of every page of the real app, whole pages, once their content has rendered.

    python tools/screenshots.py --models-dir models --out FOLDER     # the README's: --out docs/screenshots

``--out`` is required and must not be a file: nothing is overwritten unless you name its folder.

Only pages that show no dataset post are captured with models trained on the real data
(Overview, Analyze with a post written for this, Compare, Batch with a made-up CSV); the Error
explorer lists test posts, so it is captured with models trained on the synthetic posts of
tests/helpers.py (trained here into a temporary folder unless --explorer-models-dir names one), to
keep real posts out of the repository.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mhexplain.cli.args import group, option, parse  # noqa: E402
from mhexplain.cli.options import ModelsFolder  # noqa: E402
from mhexplain.training.api import run  # noqa: E402
from mhexplain.training.config import TrainConfig  # noqa: E402
from tests.helpers import synthetic_posts  # noqa: E402
from tools.browser import analyze, browser_page, open_page, running_app, wait_idle  # noqa: E402

POST = ("Some weeks I barely sleep and start ten projects at once, then I crash and can't get out of bed. "
        "My psychiatrist mentioned mood swings. Is this what mania feels like?")
CSV = ("title,text,target\nExams,Deadlines everywhere and my boss keeps adding more work,0\n"
       "Mood,Manic again: no sleep for three days and spending money I don't have,2\n"
       "Heart,Panic attack in the supermarket and my heart would not slow down,4\n")


def synthetic_models(out: Path) -> Path:
    """NB + LR trained on the tests' synthetic posts, in a temporary folder: no real post is shown."""
    tmp = Path(tempfile.mkdtemp(prefix="mhx-screenshots-"))
    synthetic_posts().to_csv(tmp / "synthetic.csv", index=False)
    run(TrainConfig(data=tmp / "synthetic.csv", out=tmp / "models", n_jobs=1, cache_dir=tmp / "cache"))
    return tmp / "models"


# Streamlit draws tables on a canvas and plotly charts as SVG after the script has finished, and
# shows grey skeletons until then: wait until every table, chart and image has real content.
_RENDERED = """() => {
  if (document.querySelector('[data-testid="stSkeleton"], [data-testid="stStatusWidget"]')) return false;
  const tables = [...document.querySelectorAll('[data-testid="stDataFrame"], [data-testid="stTable"]')];
  if (tables.some(t => !t.querySelector('canvas, table'))) return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  if (charts.some(c => !c.querySelector('.main-svg'))) return false;
  return [...document.querySelectorAll('img')].every(i => i.complete);
}"""
# The app scrolls inside its main container, not the document, so a full-page screenshot of the
# window stops at the viewport: grow the viewport to the container's height first.
_HEIGHT = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.querySelector('section.main');
  return Math.ceil(Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight));
}"""
WIDTH, MIN_HEIGHT, MAX_HEIGHT = 1400, 900, 16_000


def capture(page, path: Path, timeout: float = 120_000) -> None:
    """Wait for the page's content, then save the whole page (every table, plot and card) as PNG."""
    wait_idle(page, timeout)
    page.wait_for_function(_RENDERED, timeout=timeout)
    height = min(max(page.evaluate(_HEIGHT), MIN_HEIGHT), MAX_HEIGHT)
    page.set_viewport_size({"width": WIDTH, "height": height})
    page.wait_for_timeout(800)  # tables redraw the rows the taller window now shows
    page.wait_for_function(_RENDERED, timeout=timeout)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": MIN_HEIGHT})


@dataclass
class Settings:
    out: Path = option(help="folder for the PNGs (the README's: docs/screenshots)")
    folder: ModelsFolder = group(ModelsFolder, "models trained on the real data")
    explorer_models_dir: Path | None = option(None, "models trained on synthetic posts (default: trained now)")

    def problems(self) -> list[str]:
        return [f"--out {str(self.out)!r} is a file; name a folder"] if self.out.exists() and not self.out.is_dir() else []


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    with browser_page(WIDTH, MIN_HEIGHT) as page:
        with running_app(a.folder.models_dir.resolve()) as (url, _):
            open_page(page, url)
            capture(page, out / "overview.png")
            open_page(page, url, "Analyze a post")
            analyze(page, POST)
            page.get_by_role("button", name="Explain with every model").click()
            page.get_by_text("comprehensiveness").first.wait_for(timeout=120_000)
            capture(page, out / "analyze.png", 180_000)
            open_page(page, url, "Compare models")
            capture(page, out / "compare.png")
            open_page(page, url, "Batch scoring")
            upload = Path(tempfile.mkdtemp(prefix="mhx-upload-")) / "posts.csv"
            upload.write_text(CSV)
            page.locator('input[type="file"]').first.set_input_files(str(upload))
            page.get_by_text("Metrics on this file").wait_for(timeout=60_000)
            upload.unlink()
            capture(page, out / "batch.png")
        with running_app((a.explorer_models_dir or synthetic_models(out)).resolve()) as (url, _):
            open_page(page, url, "Error explorer")
            capture(page, out / "errors.png")
    for f in sorted(out.glob("*.png")):
        print(f, f.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
