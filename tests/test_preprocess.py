import os
import re
import subprocess
import sys

import pytest
from nltk import pos_tag, word_tokenize
from nltk.corpus import stopwords, wordnet
from nltk.stem import WordNetLemmatizer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.pipeline import Pipeline

from mhexplain.preprocess import NltkPreprocessor, preprocess_many, preprocess_text, tokenize_letters

from .helpers import ROOT, real_csv


def test_known_sentences_lemmatize_with_pos():
    out = preprocess_text("I am feeling worries about the exams!").split()
    assert "feel" in out  # "feeling" tagged as a verb
    assert "worry" in out  # "worries" as a noun
    assert "i" not in out and "the" not in out  # stopwords dropped
    assert "exam" in out


def test_non_letters_are_stripped():
    assert preprocess_text("123 !!! ???") == ""
    assert preprocess_text("Panic-attacks :(") == preprocess_text("panicattacks")


def _samples():
    texts = ["I cannot stop and I wanna go, gonna gotta lemme gimme", "wanna", "Running  runs\tran\nrunner"]
    if real_csv() is not None:
        import pandas as pd

        df = pd.read_csv(real_csv(), dtype=str, keep_default_na=False)
        texts += (df["title"] + " " + df["text"]).sample(300, random_state=0).tolist()
    return [re.sub(r"[^a-z\s]", "", t.lower()) for t in texts]


def test_tokenizer_matches_nltk_word_tokenize():
    from nltk.tokenize import word_tokenize

    for t in _samples():
        assert tokenize_letters(t) == word_tokenize(t)


def test_fast_tagger_matches_nltk_tagger():
    from nltk.tag.perceptron import PerceptronTagger

    from mhexplain.preprocess.fast_tagger import FastPerceptronTagger

    fast, ref = FastPerceptronTagger(), PerceptronTagger()
    for t in _samples():
        toks = tokenize_letters(t)
        assert fast.tag(toks) == ref.tag(toks)


def test_tagger_normalize_is_nltks():
    from nltk.tag.perceptron import PerceptronTagger

    from mhexplain.preprocess.fast_tagger import normalize

    for w in ["Word", "well-being", "-x", "1999", "19999", "7up", "", "ABC", "a1"]:
        assert normalize(w) == PerceptronTagger.normalize(None, w)


def _tables_behave_alike(a, b):
    from mhexplain.preprocess.fast_lemmatizer import FastWordNetLemmatizer
    from mhexplain.preprocess.fast_tagger import FastPerceptronTagger

    assert a.stopwords == b.stopwords
    la, lb = FastWordNetLemmatizer(a.wordnet), FastWordNetLemmatizer(b.wordnet)
    assert la.lemmas == lb.lemmas and la.exceptions == lb.exceptions
    ta, tb = FastPerceptronTagger(a.tagger), FastPerceptronTagger(b.tagger)
    for t in _samples()[:50]:
        toks = tokenize_letters(t)
        assert ta.tag(toks) == tb.tag(toks)


def test_nltk_tables_are_cached_and_checked(tmp_path, monkeypatch):
    from mhexplain.preprocess import nltk_bundle

    built = nltk_bundle.nltk_tables(tmp_path)
    (bundle,) = tmp_path.glob("nltk-tables-*.npz")
    assert bundle == nltk_bundle.bundle_path(tmp_path)
    monkeypatch.setattr(nltk_bundle, "read_from_nltk", lambda: pytest.fail("NLTK read again"))
    _tables_behave_alike(nltk_bundle.nltk_tables(tmp_path), built)  # from the file this time
    monkeypatch.undo()

    bundle.write_bytes(b"torn")  # a damaged file is rebuilt, not trusted
    assert nltk_bundle.load_bundle(tmp_path) is None
    _tables_behave_alike(nltk_bundle.nltk_tables(tmp_path), built)
    assert nltk_bundle.load_bundle(tmp_path) is not None

    # Data files that changed since (another download) make the copy stale.
    real_stat = nltk_bundle.os.stat
    monkeypatch.setattr(nltk_bundle.os, "stat", lambda p: type("S", (), {
        "st_size": real_stat(p).st_size + 1, "st_mtime_ns": real_stat(p).st_mtime_ns})())
    assert nltk_bundle.load_bundle(tmp_path) is None
    monkeypatch.undo()

    # Another NLTK_DATA is another search path: another file.
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "elsewhere"))
    assert nltk_bundle.bundle_path(tmp_path) != bundle and nltk_bundle.load_bundle(tmp_path) is None


def test_a_warm_process_preprocesses_without_importing_nltk(tmp_path):
    code = ("import sys; from mhexplain.preprocess import preprocess_text; "
            "print(preprocess_text('I was feeling worries about exams')); print('nltk' in sys.modules)")
    env = {**os.environ, "MHX_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    (cold_out, cold_nltk), (warm_out, warm_nltk) = (r.stdout.splitlines() for r in runs)
    assert cold_out == warm_out == preprocess_text("I was feeling worries about exams")
    assert (cold_nltk, warm_nltk) == ("True", "False")


def test_fast_lemmatizer_matches_wordnet_lemmatizer():
    from nltk.stem import WordNetLemmatizer

    from mhexplain.preprocess.fast_lemmatizer import FastWordNetLemmatizer

    words = {w for t in _samples() for w in t.split()}
    # irregular forms (exception lists), rule ties and words WordNet lacks
    words |= {"geese", "better", "best", "ran", "abaci", "aardwolves", "churches", "women", "feet", "leaves",
              "was", "dying", "lying", "hardrock", "saddest", "axes", "happier", "mice", "stressed"}
    fast, ref = FastWordNetLemmatizer(), WordNetLemmatizer()
    diffs = [(w, p) for w in sorted(words) for p in "anrv" if fast.lemmatize(w, p) != ref.lemmatize(w, p)]
    assert diffs == []
    assert fast.lemmatize("geese", "n") == "goose" and fast.lemmatize("ran", "v") == "run"


def test_disk_cache_is_used(tmp_path, monkeypatch):
    texts = ["I was worried sick", "Manic episodes again"]
    first = preprocess_many(texts, n_jobs=1, cache_dir=tmp_path)
    from mhexplain.preprocess import pipeline as pp

    monkeypatch.setattr(pp, "_run", lambda *a, **k: pytest.fail("cache miss: texts re-tagged"))
    assert preprocess_many(texts, n_jobs=1, cache_dir=tmp_path) == first


def test_parallel_equals_serial():
    texts = [f"I keep feeling anxious about test number {i} and my heart races" for i in range(250)]
    assert preprocess_many(texts, n_jobs=2) == preprocess_many(texts, n_jobs=1)


def test_a_parallel_block_preprocesses_once_for_every_model():
    from mhexplain.preprocess import pipeline as pp

    texts = [f"My heart races and I keep worrying about exam number {i} tomorrow" for i in range(260)]
    pp.clear_memo()
    serial = preprocess_many(texts, n_jobs=1)
    pp.clear_memo()
    with pp.parallel(2):
        assert pp._POOL is not None
        assert NltkPreprocessor().transform(texts) == serial
        assert all(t in pp._STATE.memo for t in texts)  # done in the workers, remembered here
        pp._POOL.shutdown()  # a second model must not need the pool: the posts are remembered
        assert NltkPreprocessor().transform(texts) == serial
    assert pp._POOL is None


# Posts written for this test (none from the dataset), with what the preprocessing must get right:
# contractions, irregular forms, plurals, comparatives, adverbs, HTML entities, numbers, links,
# emoji, capitals, line breaks and tabs.
POSTS = [
    "I can't sleep anymore. My heart races every night & I'm gonna fail the exams, I just know it...",
    "Lately I've been feeling so EMPTY.\nI cried for hours, ran out of tears, and the leaves outside look "
    "greyer every day",
    "Diagnosed bipolar II in 2019 — the manic episodes were better than the crashes, honestly. Lithium "
    "helps but I wanna quit it",
    "Does anyone else avoid parties because of the fear of rejection?? Friends say I'm shy; I think it's "
    "worse than that &amp; it hurts",
    "panic attack at work AGAIN 😭 my boss noticed, I couldn't breathe, mice running in my chest\t(lol)",
    "Cannot stop worrying. Gotta finish 3 deadlines by Friday: https://example.invalid/plan   lemme know "
    "how you cope, geese are happier than me",
]


def _notebook_preprocessing(text: str) -> str:
    """The reference notebook's steps, written with NLTK's own functions (the library's fast
    tokenizer, tagger and lemmatizer are none of them)."""
    stop = set(stopwords.words("english"))
    lemmatizer = WordNetLemmatizer()
    tokens = word_tokenize(re.sub(r"[^a-z\s]", "", text.lower()))
    return " ".join(lemmatizer.lemmatize(word, NOTEBOOK_POS.get(tag[0], wordnet.NOUN))
                    for word, tag in pos_tag(tokens) if word not in stop)


NOTEBOOK_POS = {"J": wordnet.ADJ, "V": wordnet.VERB, "N": wordnet.NOUN, "R": wordnet.ADV}


def test_transformer_in_sklearn_pipeline():
    expected = [_notebook_preprocessing(p) for p in POSTS]
    pipe = Pipeline([("lemmas", NltkPreprocessor()), ("counts", CountVectorizer(analyzer=str.split))])
    pipe.fit(POSTS)
    assert pipe[:-1].transform(POSTS) == expected
    assert set(pipe[-1].vocabulary_) == {w for text in expected for w in text.split()}
    # a lemma of each kind: by its verb or adjective tag, from WordNet's lists of irregular forms
    assert {"feel", "cry", "run", "grey", "happy", "good", "mouse", "leaf"} <= set(pipe[-1].vocabulary_)


def test_missing_nltk_data_gives_clear_message(tmp_path):
    code = "from mhexplain.preprocess import preprocess_text; preprocess_text('hello there')"
    env = {"NLTK_DATA": str(tmp_path), "MHX_NO_NLTK_DOWNLOAD": "1", "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0
    assert "NLTK data missing" in r.stderr and "stopwords" in r.stderr


def test_train_cli_reports_missing_nltk_data(tmp_path, fixture_csv):
    env = {"NLTK_DATA": str(tmp_path), "MHX_NO_NLTK_DOWNLOAD": "1", "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "train", "--data", str(fixture_csv), "--out", str(tmp_path / "m"),
                        "--jobs", "1"], env=env, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: NLTK data missing")
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "m").exists()


def test_the_suite_stops_once_with_the_nltk_message(tmp_path):
    env = {"NLTK_DATA": str(tmp_path), "MHX_NO_NLTK_DOWNLOAD": "1", "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_metrics.py"],
                       env=env, capture_output=True, text=True, cwd=ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert r.stdout.count("cannot run the tests: NLTK data missing") == 1 and "assert 2 == 0" not in out
    assert len(out.strip().splitlines()) <= 2 and "passed" not in out and "Traceback" not in out


def test_an_unreachable_downloader_prints_nothing_and_the_error_is_one_line(monkeypatch, capfd):
    """Offline, NLTK's downloader printed 12 '[nltk_data] Error loading …' lines before our message."""
    from urllib.error import URLError

    import nltk.downloader

    from mhexplain.core.errors import NltkDataError
    from mhexplain.preprocess import nltk_resources

    tries = []

    def unreachable(*args, **kwargs):
        tries.append(args)
        raise URLError("no route to host")

    monkeypatch.setattr(nltk.downloader, "urlopen", unreachable)
    monkeypatch.setattr(nltk_resources, "_missing", lambda: list(nltk_resources.RESOURCES))
    monkeypatch.setattr(nltk_resources, "_FAILED", set())
    monkeypatch.delenv("MHX_NO_NLTK_DOWNLOAD", raising=False)
    nltk_resources.ensure_nltk_data.cache_clear()
    try:
        with pytest.raises(NltkDataError) as caught:
            nltk_resources.ensure_nltk_data()
        assert len(tries) == 1  # the downloader tried, and after one failure no other package waits on it
        with pytest.raises(NltkDataError) as again:
            nltk_resources.ensure_nltk_data()  # a page preprocessing again does not wait on the network again
        assert len(tries) == 1 and str(again.value) == str(caught.value)
    finally:
        nltk_resources.ensure_nltk_data.cache_clear()  # the next caller looks again
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    message = str(caught.value)
    assert "\n" not in message
    for needed in ("averaged_perceptron_tagger_eng", "stopwords", "wordnet", "could not fetch", "NLTK_DATA",
                   "one of NLTK's folders", "MHX_NO_NLTK_DOWNLOAD"):
        assert needed in message, needed


def test_the_disk_cache_is_private_to_its_owner(tmp_path):
    path = tmp_path / "c" / "preprocess-nltk-v1.jsonl"
    preprocess_many(["a post about exams"], n_jobs=1, cache_dir=tmp_path / "c")
    assert path.stat().st_mode & 0o777 == 0o600 and (tmp_path / "c").stat().st_mode & 0o777 == 0o700
    path.chmod(0o644)  # written by an earlier version
    preprocess_many(["another post about deadlines"], n_jobs=1, cache_dir=tmp_path / "c")
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_disk_cache_is_written_where_os_has_no_fchmod(tmp_path, monkeypatch):
    """Windows has no os.fchmod: the cache write failed there with AttributeError."""
    from mhexplain.preprocess import DiskCache

    monkeypatch.delattr(os, "fchmod")
    DiskCache(tmp_path / "c").add({"key": "lemmatised post"})
    assert DiskCache(tmp_path / "c").data == {"key": "lemmatised post"}


def _files_holding(folder, needle: bytes) -> list:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_training_on_an_upload_writes_no_post_to_the_cache(tmp_path, monkeypatch):
    """The in-app training path (train.api.train_upload, as the Overview page calls it): the
    uploaded posts end up in the models it trains and nowhere else, as the README promises."""
    from mhexplain.training.api import train_upload

    from .helpers import synthetic_posts

    marker = b"zqxvemarker"
    posts = synthetic_posts()
    posts["text"] = posts["text"] + " " + marker.decode()
    cache = tmp_path / "cache"
    monkeypatch.setenv("MHX_CACHE_DIR", str(cache))
    train_upload(posts.to_csv(index=False).encode(), "upload.csv", tmp_path / "models", n_jobs=1)
    assert (tmp_path / "models" / "lr" / "predictions.csv").is_file()
    assert not cache.exists() or _files_holding(cache, marker) == []
    assert not (cache / "preprocess-nltk-v1.jsonl").exists()
    # the same posts from a file on disk (the operator's dataset) do use the cache
    data = tmp_path / "posts.csv"
    posts.to_csv(data, index=False)
    from mhexplain.cli.train import main

    assert main(["--data", str(data), "--out", str(tmp_path / "m2"), "--models", "nb", "--jobs", "1"]) == 0
    assert _files_holding(cache, marker) == [cache / "preprocess-nltk-v1.jsonl"]
