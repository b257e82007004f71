"""Where NLTK preprocessing time goes, and what each speed-up buys, over the whole corpus.

    python bench/preprocess.py [--data PATH]
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from _proc import Dataset
from nltk.tag.perceptron import PerceptronTagger
from nltk.tokenize import word_tokenize

from mhexplain.cli.args import parse
from mhexplain.datasets.dataset import DatasetSpec, read_dataset
from mhexplain.preprocess import preprocess_many, tokenize_letters
from mhexplain.preprocess.fast_tagger import FastPerceptronTagger


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    a = parse(Dataset, argv, description=__doc__.split("\n\n")[0])
    probe = ("import time; t=time.perf_counter(); from nltk.stem import WordNetLemmatizer; "
             "WordNetLemmatizer().lemmatize('dogs', 'n'); print(time.perf_counter()-t)")
    wn = float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    print(f"WordNet load (once per process): {wn:.2f} s")
    df = read_dataset(a.data, DatasetSpec()).frame
    texts = (df["title"] + " " + df["text"]).tolist()
    letters = [re.sub(r"[^a-z\s]", "", t.lower()) for t in texts]
    print(f"{len(texts)} posts, {os.cpu_count()} cores")
    ref_tok, t_ref = timed(lambda: [word_tokenize(t) for t in letters])
    fast_tok, t_fast = timed(lambda: [tokenize_letters(t) for t in letters])
    print(f"tokenize: nltk word_tokenize {t_ref:.2f} s, tokenize_letters {t_fast:.2f} s, "
          f"identical: {ref_tok == fast_tok}")
    nltk_tagger, fast_tagger = PerceptronTagger(), FastPerceptronTagger()
    ref_tags, t_ref = timed(lambda: [nltk_tagger.tag(t) for t in ref_tok])
    fast_tags, t_fast = timed(lambda: [fast_tagger.tag(t) for t in ref_tok])
    print(f"POS tag:  nltk PerceptronTagger {t_ref:.2f} s, FastPerceptronTagger {t_fast:.2f} s, "
          f"posts with any differing tag: {sum(x != y for x, y in zip(ref_tags, fast_tags))}")
    # 2 first: forked workers would otherwise inherit the warm state (lemma cache, WordNet) of a
    # serial run in this process.
    for jobs in (2, 1):
        _, t = timed(lambda: preprocess_many(texts, n_jobs=jobs))
        print(f"full preprocessing, {jobs} process(es), no disk cache: {t:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
