"""The strong linear baseline (``ngram``): trained, saved, loaded, scored and explained exactly."""
import json
import re
from collections import Counter

import numpy as np
import pytest

from mhexplain.artifacts.folder import verify_artifact
from mhexplain.artifacts.registry import load_classifier, load_models
from mhexplain.classifiers.ngram import (
    CHARS,
    FEATURES_STEP,
    WORDS,
    NgramClassifier,
    build_pipeline,
    char_occurrences,
    load_ngram,
    pipeline_problem,
    word_occurrences,
)
from mhexplain.cli import score as score_cli
from mhexplain.cli.train import main as train_cli
from mhexplain.explain import explain
from mhexplain.training.ngram import C_GRID

from .helpers import synthetic_posts

POSTS = ["So stressed about deadlines at work, my boss keeps adding pressure!!",
         "manic   episode again\tand lithium... Can't sleep — café naïve ÉCOLE",
         "panic panic panic: heart racing, a b c",
         "x"]


@pytest.fixture(scope="module")
def ngram_dir(fixture_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("ngram-models")
    assert train_cli(["--data", str(fixture_csv), "--out", str(out), "--models", "lr,ngram", "--jobs", "1",
                      "--cache-dir", str(out / ".cache")]) == 0
    return out


def test_the_occurrences_are_the_vectorizers_own_grams():
    pipeline = build_pipeline(1.0, 0)
    vectorizers = dict(pipeline.named_steps[FEATURES_STEP].transformer_list)
    for text in POSTS:
        assert Counter(g for g, _ in word_occurrences(text)) == Counter(vectorizers[WORDS].build_analyzer()(text))
        assert Counter(g for g, _ in char_occurrences(text)) == Counter(vectorizers[CHARS].build_analyzer()(text))
        for gram, sources in word_occurrences(text):  # each occurrence points at its own characters
            assert gram.replace(" ", "") == "".join(text[i] for i in sources).lower()


def test_contributions_add_up_to_the_models_logits(ngram_dir):
    clf = load_classifier(ngram_dir / "ngram")
    model = clf.base if hasattr(clf, "base") else clf
    for text in POSTS + synthetic_posts(seed=3)["text"].head(5).tolist():
        spans = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]+", text)]
        contrib, bias, space = model.linear_contributions(text, spans)
        logits = model.pipeline.decision_function([text])[0]
        assert np.allclose(contrib.sum(0) + bias, logits, atol=1e-8), text
        assert "logits" in space
        seen = model.visible_units(text, spans)
        assert not contrib[~seen].any()  # a unit no feature reads contributes nothing


def test_the_ngram_folder_is_a_model_like_the_others(ngram_dir, tmp_path):
    manifest = verify_artifact(ngram_dir / "ngram")
    assert manifest["kind"] == "ngram" and manifest["params"]["best"]["C"] in manifest["params"]["grid_C"]
    metrics = json.loads((ngram_dir / "ngram" / "metrics.json").read_text())
    assert 0 <= metrics["macro_f1"] <= 1 and len(metrics["grid"]) == len(C_GRID) and "abstention" in metrics
    models = load_models(ngram_dir)
    assert list(models) == ["lr", "ngram"]
    p = models["ngram"].predict_proba(POSTS)
    assert p.shape == (len(POSTS), 5) and np.allclose(p.sum(1), 1)
    data = tmp_path / "posts.csv"
    synthetic_posts(seed=4).head(30).to_csv(data, index=False)
    assert score_cli.main(["--models-dir", str(ngram_dir), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0
    assert "ngram_p_stress" in (tmp_path / "p.csv").read_text().splitlines()[0]
    for method in ("linear", "shap", "lime"):
        exp = explain(models["ngram"], POSTS[0], method=method, budget=200)
        assert exp.method == method and any(w == "pressure" for w, _ in exp.top(5))


def test_a_pipeline_that_reads_text_otherwise_is_refused(ngram_dir):
    pipeline = load_ngram(ngram_dir / "ngram", verify_artifact(ngram_dir / "ngram")).pipeline
    assert pipeline_problem(pipeline) is None
    dict(pipeline.named_steps[FEATURES_STEP].transformer_list)[CHARS].set_params(analyzer="char")
    assert "chars vectorizer reads text differently (analyzer)" in pipeline_problem(pipeline)
    for change in ({"transformer_weights": {WORDS: 5.0}}, {"n_jobs": -1}):
        fresh = load_ngram(ngram_dir / "ngram", verify_artifact(ngram_dir / "ngram")).pipeline
        fresh.named_steps[FEATURES_STEP].set_params(**change)
        assert "weighted or spread over processes" in pipeline_problem(fresh)


def test_a_masked_ngram_model_never_sees_the_words(fixture_csv, tmp_path):
    out = tmp_path / "masked"
    assert train_cli(["--data", str(fixture_csv), "--out", str(out), "--models", "ngram", "--jobs", "1",
                      "--cache-dir", str(tmp_path / "cache"), "--mask-words", "default"]) == 0
    clf = load_classifier(out / "ngram")
    assert np.allclose(clf.predict_proba(["my anxiety today"]), clf.predict_proba(["my  today"]))


def test_every_page_runs_with_the_ngram_model(ngram_dir, monkeypatch):
    from .test_app import PAGES, _app, _no_exception

    at = _app(ngram_dir, monkeypatch)
    for page in ("overview", "analyze", "errors", "batch", "compare"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        _no_exception(at)
    at.switch_page(f"{PAGES}/analyze.py").run()
    at.text_area(key="post").set_value(POSTS[0]).run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    assert [m.label for m in at.metric] == ["Logistic Regression", "N-gram LR"]
    at.select_slider[0].set_value(100).run()
    next(b for b in at.button if b.label == "Explain with every model").click().run()
    _no_exception(at)
    assert len(at.get("html")) == 2


def _fitted(texts, y) -> NgramClassifier:
    pipeline = build_pipeline(10.0, 0)
    pipeline.fit(texts, y)
    return NgramClassifier(pipeline, "ngram", [str(k) for k in sorted(set(y))])


def _spans(text):
    return [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]+", text)]


UNICODE = ["İstanbul trip İstanbul", "ΟΔΟΣ.ΑΒ and οδος", "Straße STRASSE", "ǅemal ǆ"]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_contributions_are_exact_on_two_classes_and_on_letters_that_lowercase_oddly(n_classes):
    rng = np.random.default_rng(0)
    vocab = ["calm", "tense", "sleep", "work", "İstanbul", "ΟΔΟΣ", "Straße", "ǅemal"]
    texts = [" ".join(rng.choice(vocab, 6)) for _ in range(60)] + UNICODE * 3
    y = np.arange(len(texts)) % n_classes
    clf = _fitted(texts, y)
    for text in UNICODE + texts[:5]:
        contrib, bias, _ = clf.linear_contributions(text, _spans(text))
        logits = contrib.sum(0) + bias
        # the logits' softmax is the model's probability, for two classes as for more
        assert np.allclose(np.exp(logits) / np.exp(logits).sum(), clf.predict_proba([text])[0], atol=1e-8), text
    if n_classes == 2:  # each class has its own contributions: the two are opposite
        contrib, _, _ = clf.linear_contributions(UNICODE[0], _spans(UNICODE[0]))
        assert np.allclose(contrib[:, 0], -contrib[:, 1]) and np.abs(contrib).sum() > 0
