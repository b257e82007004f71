"""The app as a user meets it, in headless Chromium: cold start to first render, then the time
to show every model's prediction for one post (first click, which loads the models, and later
clicks, with models loaded).

    python bench/app.py [--models-dir models] [--repeats 5]
"""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass

import _proc  # noqa: F401 (puts the project on sys.path)
import numpy as np

from mhexplain.cli.args import group, option, parse
from mhexplain.cli.options import ModelsFolder
from tools.browser import analyze, browser_page, open_page, running_app

POSTS = [
    "I can't sleep before exams, my chest gets tight and I keep thinking something terrible will happen.",
    "Some weeks I barely sleep and start ten projects, then I crash and can't get out of bed for days.",
    "Nothing feels worth doing anymore. I've stopped answering my friends and I just feel empty.",
    "Work keeps piling up and my manager keeps adding deadlines. I'm exhausted and snapping at everyone.",
    "I avoid every social event because I'm sure people will judge me and I'll say something stupid.",
    "My heart races for no reason and I get dizzy in supermarkets, so I've started avoiding them.",
]


@dataclass
class Settings:
    folder: ModelsFolder = group(ModelsFolder, "models")
    repeats: int = option(5, "new posts analysed once the models are loaded", min=1)


def main(argv=None) -> int:
    a = parse(Settings, argv, description=__doc__.split("\n\n")[0])
    models_dir = a.folder.models_dir
    models = sorted(x.name for x in models_dir.iterdir() if (x / "manifest.json").is_file())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; models: {', '.join(models)}")
    with browser_page() as page:
        t0 = time.perf_counter()
        with running_app(models_dir.resolve()) as (url, server_s):
            open_page(page, url)
            page.locator('[data-testid="stMetric"]').first.wait_for()
            first_render = time.perf_counter() - t0
            print(f"cold start: server healthy after {server_s:.2f} s; Overview rendered after {first_render:.2f} s")
            open_page(page, url, "Analyze a post")
            first = analyze(page, POSTS[0])
            print(f"first prediction (loads {len(models)} models): {first:.2f} s")
            times = [analyze(page, POSTS[1 + i % (len(POSTS) - 1)]) for i in range(a.repeats)]
            print(f"predictions with models loaded: median {np.median(times):.2f} s, max {max(times):.2f} s "
                  f"over {len(times)} new posts (click to all {len(models)} predictions rendered)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
