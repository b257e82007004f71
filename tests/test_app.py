"""The Streamlit app as a user drives it (streamlit.testing AppTest), on models trained in the test session."""
import shutil

from streamlit.testing.v1 import AppTest

from .conftest import ROOT

TIMEOUT = 120


def _app(models_dir, monkeypatch) -> AppTest:
    monkeypatch.setenv("MHX_MODELS_DIR", str(models_dir))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    return at.run()


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def test_overview_shows_every_model(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    _no_exception(at)
    assert "Research tool, not a diagnosis" in at.info[0].value
    assert [m.label for m in at.metric][:2] == ["posts read", "kept after cleaning"]
    table = at.dataframe[1].value
    assert table["model"].tolist() == ["nb", "lr", "bert"]


def test_analyze_shows_three_predictions_and_explanations(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page("pages/analyze.py").run()
    _no_exception(at)
    at.text_area(key="post").set_value("So stressed about deadlines at work, my boss keeps adding pressure").run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    _no_exception(at)
    assert [m.label for m in at.metric] == ["Naive Bayes", "Logistic Regression", "BERT"]
    assert at.success or at.warning  # the agreement flag
    at.select_slider[0].set_value(100).run()
    next(b for b in at.button if b.label == "Explain with every model").click().run()
    _no_exception(at)
    htmls = at.get("html")
    assert len(htmls) == 3
    assert sum("comprehensiveness" in c.value for c in at.caption) == 3
    if len({m.value for m in at.metric}) == 1:  # same predicted class: agreement table shown
        assert at.dataframe[-1].value.shape[0] == 3


def test_analyze_empty_post_shows_an_error(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page("pages/analyze.py").run()
    at.text_area(key="post").set_value("   ").run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    _no_exception(at)
    assert "empty" in at.error[0].value


def test_compare_page_and_normalise_toggle(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page("pages/compare.py").run()
    _no_exception(at)
    assert len(at.get("plotly_chart")) == 5  # three confusion matrices, PR scatter, misclassification bars
    at.toggle[0].set_value(True).run()
    _no_exception(at)
    assert any("McNemar" in c.value for c in at.caption)


def test_error_explorer_filters_change_the_table(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page("pages/errors.py").run()
    _no_exception(at)
    n_all = len(at.dataframe[0].value)
    at.selectbox(key="flag").set_value("all models right").run()
    n_right = len(at.dataframe[0].value)
    at.selectbox(key="flag").set_value("all models wrong").run()
    n_wrong = len(at.dataframe[0].value)
    assert n_right + n_wrong <= n_all and (n_right < n_all or n_wrong < n_all)
    at.selectbox(key="flag").set_value("all posts").run()
    first = at.dataframe[0].value.iloc[0]
    at.selectbox(key="open_post").set_value(int(first["post_id"])).run()
    _no_exception(at)
    assert at.subheader[0].value.startswith(f"Post #{first['post_id']}")
    next(b for b in at.button if b.label == "Explain this post").click().run()
    _no_exception(at)
    assert len(at.get("html")) == 3
    at.text_input(key="search").set_value("zzzz-no-such-word").run()
    assert len(at.dataframe[0].value) == 0
    assert "0 of" in at.caption[-1].value


def test_batch_page_rejects_a_bad_upload(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page("pages/batch.py").run()
    _no_exception(at)
    assert at.multiselect[0].value == ["nb", "lr", "bert"]
    at.file_uploader[0].set_value(("posts.csv", b"\x00\x01binary\xff", "text/csv")).run()
    _no_exception(at)
    assert "binary" in at.error[0].value
    at.file_uploader[0].set_value(("posts.csv", b"body,label\nx,1\n", "text/csv")).run()
    assert "lacks the column(s) text" in at.error[0].value


def test_batch_page_scores_an_upload(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page("pages/batch.py").run()
    csv = b"title,text,target\nExams,so much pressure at work,0\nMood,manic episode again,2\nHeart,panic attack,4\n"
    at.file_uploader[0].set_value(("posts.csv", csv, "text/csv")).run()
    _no_exception(at)
    preds = at.dataframe[0].value
    assert len(preds) == 3 and "bert prediction" in preds.columns
    assert at.dataframe[1].value["model"].tolist() == ["nb", "lr", "bert"]  # metrics, as target is given


def test_no_models_says_how_to_train(tmp_path, monkeypatch):
    at = _app(tmp_path / "empty", monkeypatch)
    _no_exception(at)
    assert "No trained models" in at.warning[0].value
    assert any("python -m train" in c.value for c in at.code)
    for page in ("pages/analyze.py", "pages/compare.py", "pages/errors.py", "pages/batch.py"):
        at.switch_page(page).run()
        _no_exception(at)
        assert "No trained models" in at.warning[0].value


def test_train_from_the_app(tmp_path, fixture_csv, monkeypatch):
    monkeypatch.setenv("MHX_CACHE_DIR", str(tmp_path / "cache"))
    at = _app(tmp_path / "m", monkeypatch)
    at.text_input(key="train_csv").set_value(str(fixture_csv))
    at.button[0].click().run()
    _no_exception(at)
    assert (tmp_path / "m" / "lr" / "manifest.json").is_file()
    at.run()
    assert at.dataframe[1].value["model"].tolist() == ["nb", "lr"]


def test_train_from_the_app_with_bad_data(tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    at = _app(tmp_path / "m", monkeypatch)
    at.text_input(key="train_csv").set_value(str(bad))
    at.button[0].click().run()
    _no_exception(at)
    assert "lacks the column(s)" in at.error[0].value
    assert not (tmp_path / "m").exists()


def test_partial_and_corrupt_models(three_models_dir, tmp_path, monkeypatch):
    d = tmp_path / "models"
    shutil.copytree(three_models_dir / "lr", d / "lr")
    shutil.copytree(three_models_dir / "nb", d / "nb")
    (d / "nb" / "model.skops").write_bytes(b"broken")
    at = _app(d, monkeypatch)
    _no_exception(at)
    at.switch_page("pages/analyze.py").run()
    _no_exception(at)
    caption = " ".join(c.value for c in at.caption)
    assert "bert (not trained)" in caption and "nb (" in caption
    at.text_area(key="post").set_value("panic attack again").run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    assert [m.label for m in at.metric] == ["Logistic Regression"]
