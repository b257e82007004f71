"""The Streamlit app as a user drives it (streamlit.testing AppTest), on models trained in the test session."""
import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mhexplain.artifacts.folder import read_predictions
from mhexplain.core.textsafe import WORD_JOINER
from mhexplain.datasets.dataset import KAGGLE_LABELS
from webapp.ui import UNEXPECTED

from .conftest import BINARY_LABELS, CODERS, MANY_LABELS
from .helpers import CLASS_WORDS, ROOT, class_word, noisy_source, synthetic_posts

TIMEOUT = 120
STRANGE = "This post is less like the training data"
PAGES = "webapp/pages"  # not "pages/" beside app.py: Streamlit would serve a file there as a page of its own


def _app(models_dir, monkeypatch, allow_training: bool = False, run: bool = True) -> AppTest:
    dirs = models_dir if isinstance(models_dir, (list, tuple)) else [models_dir]
    monkeypatch.setenv("MHX_MODELS_DIR", os.pathsep.join(str(d) for d in dirs))
    if allow_training:
        monkeypatch.setenv("MHX_ALLOW_TRAINING", "1")
    else:
        monkeypatch.delenv("MHX_ALLOW_TRAINING", raising=False)
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    return at.run() if run else at


def _shown(value: str) -> str:
    """Markdown text as it reads on screen (the app escapes user text with backslashes)."""
    return re.sub(r"\\(.)", r"\1", value)


def _captions(at) -> list[str]:
    """Captions as they read on screen (escapes undone, the invisible joiners that stop autolinks gone)."""
    return [_shown(c.value).replace(WORD_JOINER, "") for c in at.caption]


def _errors(at) -> list[str]:
    return [_shown(e.value) for e in at.error]


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]
    assert UNEXPECTED not in _errors(at)


def test_overview_shows_every_model(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    _no_exception(at)
    assert "Research tool, not a diagnosis" in at.info[0].value
    assert [m.label for m in at.metric][:2] == ["posts read", "kept after cleaning"]
    table = at.dataframe[1].value
    assert table["model"].tolist() == ["nb", "lr", "bert"]


def test_a_page_opened_first_runs_inside_the_apps_frame(trained_dir, monkeypatch):
    """A first visit straight to /compare (a fresh session, no earlier run) is what switch_page
    does before any run: the page must still get the note, the sidebar and the app's one-line errors."""
    import mhexplain.evaluation.compare

    for page, title in (("analyze", "Analyze a post"), ("compare", "Compare models"), ("errors", "Error explorer"),
                        ("batch", "Batch scoring")):
        at = _app(trained_dir, monkeypatch, run=False)
        at.switch_page(f"{PAGES}/{page}.py").run()
        _no_exception(at)
        assert [t.value for t in at.title] == [title], page
        assert "Research tool, not a diagnosis" in at.info[0].value, page
        assert at.sidebar.selectbox[0].label == "Models folder", page
    monkeypatch.setattr(mhexplain.evaluation.compare, "pairwise_tests", lambda *a, **k: 1 / 0)
    at = _app(trained_dir, monkeypatch, run=False)
    at.switch_page(f"{PAGES}/compare.py").run()
    assert not at.exception and _errors(at) == [UNEXPECTED]


def test_analyze_shows_three_predictions_and_explanations(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page(f"{PAGES}/analyze.py").run()
    _no_exception(at)
    at.text_area(key="post").set_value("So stressed about deadlines at work, my boss keeps adding pressure").run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    _no_exception(at)
    assert [m.label for m in at.metric] == ["Naive Bayes", "Logistic Regression", "BERT"]
    guesses = _best_guesses(at)
    agree = len(set(guesses.values())) == 1  # the tiny random BERT may or may not agree
    (flag,) = [_shown(e.value) for e in (*at.success, *at.warning) if not _shown(e.value).startswith(STRANGE)]
    abstaining = [m.label for m in at.metric if m.value == "uncertain"]
    assert flag.startswith("All models agree") == (agree and not abstaining)
    assert all(name in flag for name in abstaining)
    at.select_slider[0].set_value(100).run()
    next(b for b in at.button if b.label == "Explain with every model").click().run()
    _no_exception(at)
    htmls = at.get("html")
    assert len(htmls) == 3
    assert sum("comprehensiveness" in c.value for c in at.caption) == 3
    # the agreement table compares explanations of one class: shown exactly when the models agree
    tables = [d.value for d in at.dataframe if "Spearman" in d.value.columns]
    assert [len(t) for t in tables] == ([3] if agree else [])


def _best_guesses(at) -> dict[str, str]:
    """Each model's class on the Analyze page: its answer, or the best guess of an uncertain one."""
    return {m.label: re.search(r"best guess (.+?),", m.delta).group(1) if m.value == "uncertain" else m.value
            for m in at.metric}


def test_agreement_names_the_models_that_abstain(trained_dir, monkeypatch):
    import mhexplain.scoring.table

    post = "my heart races and panic attacks hit me every morning before the bus"
    # Naive Bayes abstains by a hair: its threshold sits just above its confidence on this post.
    monkeypatch.setattr(mhexplain.scoring.table, "abstention_threshold",
                        lambda clf: float(clf.predict_proba([post])[0].max()) + 1e-5 if clf.name == "nb" else 0.0)
    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/analyze.py").run()
    at.text_area(key="post").set_value(post).run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    _no_exception(at)
    nb, lr = at.metric
    assert nb.value == "uncertain" and lr.value != "uncertain"
    assert not at.success
    assert [_shown(w.value) for w in at.warning if not _shown(w.value).startswith(STRANGE)] == [
        f"Only Logistic Regression answers ({lr.value}); Naive Bayes abstains (uncertain)."]
    shown, needed = map(float, re.search(r"confidence ([\d.]+) is below its threshold ([\d.]+)", nb.delta).groups())
    assert shown < needed  # rounding never prints "0.72 < 0.72"


def test_analyze_empty_post_shows_an_error(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page(f"{PAGES}/analyze.py").run()
    at.text_area(key="post").set_value("   ").run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    _no_exception(at)
    assert "empty" in _errors(at)[0]


def test_compare_page_and_normalise_toggle(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    _no_exception(at)
    # three confusion matrices, PR scatter, misclassification bars, reliability diagram, coverage curves
    assert len(at.get("plotly_chart")) == 7
    summary = at.dataframe[0].value
    assert summary["ECE (calibrated)"].between(0, 1).all() and "ECE before calibration" in summary.columns
    points = next(d.value for d in at.dataframe if "coverage" in d.value.columns)
    assert points["model"].tolist() == ["nb", "lr", "bert"] and points["coverage"].between(0, 1).all()
    at.toggle[0].set_value(True).run()
    _no_exception(at)
    assert any("McNemar" in c.value for c in at.caption)


def test_error_explorer_filters_change_the_table(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page(f"{PAGES}/errors.py").run()
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
    assert _shown(at.subheader[0].value).startswith(f"Post #{first['post_id']}")
    next(b for b in at.button if b.label == "Explain this post").click().run()
    _no_exception(at)
    assert len(at.get("html")) == 3
    at.text_input(key="search").set_value("zzzz-no-such-word").run()
    assert len(at.dataframe[0].value) == 0
    assert "0 of" in at.caption[-1].value


def test_batch_page_rejects_a_bad_upload(three_models_dir, monkeypatch):
    at = _app(three_models_dir, monkeypatch)
    at.switch_page(f"{PAGES}/batch.py").run()
    _no_exception(at)
    assert at.multiselect[0].value == ["nb", "lr", "bert"]
    at.file_uploader[0].set_value(("posts.csv", b"\x00\x01binary\xff", "text/csv")).run()
    _no_exception(at)
    assert "binary" in _errors(at)[0]
    at.file_uploader[0].set_value(("posts.csv", b"body,label\nx,1\n", "text/csv")).run()
    assert "has no column named 'text' (the posts); its columns are 'body' and 'label'" in _shown(_errors(at)[0])


def _batch_upload(models_dir, monkeypatch, name: str, raw: bytes) -> AppTest:
    at = _app(models_dir, monkeypatch)
    at.switch_page(f"{PAGES}/batch.py").run()
    at.file_uploader[0].set_value((name, raw, "text/csv")).run()
    _no_exception(at)
    return at


def test_batch_page_scores_an_upload(three_models_dir, monkeypatch):
    csv = b"title,text,target\nExams,so much pressure at work,0\nMood,manic episode again,2\nHeart,panic attack,4\n"
    at = _batch_upload(three_models_dir, monkeypatch, "posts.csv", csv)
    preds = at.dataframe[0].value
    assert len(preds) == 3 and {"bert_pred", "bert_uncertain", "text"} <= set(preds.columns)
    metrics = at.dataframe[1].value  # metrics, as target is given
    assert metrics["model"].tolist() == ["nb", "lr", "bert"] and "macro F1 (3 classes)" in metrics.columns
    assert any("mean over the 3 classes this file's target holds (stress, bipolar, anxiety)" in _shown(c.value)
               for c in at.caption)


def test_batch_page_says_when_an_upload_is_unlike_the_training_data(trained_dir, monkeypatch):
    same = synthetic_posts(seed=11)[["title", "text"]].head(60)
    at = _batch_upload(trained_dir, monkeypatch, "same.csv", same.to_csv(index=False).encode())
    assert any(c.startswith("No shift detected (a classifier") for c in _captions(at)) and not at.warning
    assert {"in_domain_similarity", "in_domain_typicality"} <= set(at.dataframe[0].value.columns)
    rng = np.random.default_rng(5)
    other = pd.DataFrame({"text": [" ".join(class_word(int(k), int(j)) for k, j in rng.integers(0, 40, (15, 2)))
                                   for _ in range(60)]})
    at = _batch_upload(trained_dir, monkeypatch, "other.csv", other.to_csv(index=False).encode())
    (warning,) = [_shown(w.value) for w in at.warning]
    assert warning.startswith("Shift detected (a classifier") and "may not hold here" in warning
    shares = next(d.value for d in at.dataframe if "training data" in d.value.columns)
    assert shares["class"].str.lower().tolist() == list(KAGGLE_LABELS) and set(shares.columns) >= {"nb predicts", "lr predicts"}
    assert shares["training data"].sum() == pytest.approx(1.0) and shares["lr predicts"].sum() == pytest.approx(1.0)


def test_analyze_says_how_typical_a_post_is(trained_dir, monkeypatch):
    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/analyze.py").run()
    for post, strange in ((synthetic_posts(seed=12)["text"].iloc[0], False), ("zorbax quintar velmoth " * 4, True)):
        at.text_area(key="post").set_value(post).run()
        next(b for b in at.button if b.label == "Analyze").click().run()
        _no_exception(at)
        flagged = [_shown(w.value) for w in at.warning if _shown(w.value).startswith(STRANGE)]
        assert bool(flagged) == strange
        if strange:
            assert "in-domain typicality 0.00" in flagged[0] and "may not hold for it" in flagged[0]
        else:
            assert any(c.startswith("In-domain typicality") for c in _captions(at))


def test_batch_metrics_on_a_file_of_one_class_read_in_the_singular(trained_dir, monkeypatch):
    """"macro F1 (1 classes)" and "the mean over the 1 classes"."""
    csv = b"title,text,target\nExams,so much pressure at work,0\nBoss,deadline again,0\n"
    at = _batch_upload(trained_dir, monkeypatch, "posts.csv", csv)
    assert "macro F1 (1 class)" in at.dataframe[1].value.columns
    shown = [_shown(c.value) for c in at.caption]
    assert any("mean over the 1 class this file's target holds (stress)" in c for c in shown)
    assert not [c for c in shown if "1 classes" in c]


def test_upload_limit_reads_as_the_browser_shows_it(trained_dir, monkeypatch):
    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/batch.py").run()
    # Streamlit's browser side counts max_upload_size in 10**6-byte megabytes ("10MB per file").
    assert {f.proto.max_upload_size_mb for f in at.file_uploader} == {10}
    assert any("at most 10 MB and 2,000 rows" in m.value for m in at.markdown)
    assert not [m.value for m in at.markdown if "MiB" in m.value]


def test_a_file_that_is_not_a_csv_gets_the_apps_one_line(trained_dir, monkeypatch):
    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/batch.py").run()
    for key in ("upload", "ext_upload"):
        at.file_uploader(key=key).set_value(("posts.json", b'{"text": "hello"}', "application/json")).run()
        _no_exception(at)
        assert _errors(at) == ["posts.json is not a CSV file: upload a file whose name ends in .csv."], key
        at.file_uploader(key=key).clear().run()


def test_no_models_says_how_to_train(tmp_path, monkeypatch):
    at = _app(tmp_path / "empty", monkeypatch)
    _no_exception(at)
    assert "No trained models" in _shown(at.warning[0].value)
    cmds = [c.value for c in at.code]
    assert any(c.endswith(f"-m train --data PATH/TO/data_to_be_cleansed.csv --out {tmp_path / 'empty'}") or
               " -m train --data " in c and c.endswith(str(tmp_path / "empty")) for c in cmds)
    assert any(c.endswith("--models bert") for c in cmds)  # BERT gets a command of its own
    assert not at.get("form") and not at.file_uploader  # training here is off unless the operator allows it
    for page in ("analyze", "compare", "errors", "batch"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        _no_exception(at)
        assert "No trained models" in _shown(at.warning[0].value)


def test_no_page_takes_a_path_and_folders_come_from_the_server(three_models_dir, tmp_path, monkeypatch):
    other = tmp_path / "other"
    shutil.copytree(three_models_dir / "lr", other / "lr")
    at = _app([three_models_dir, other], monkeypatch)
    _no_exception(at)
    box = at.sidebar.selectbox[0]
    assert box.label == "Models folder" and [str(o) for o in box.options] == [str(three_models_dir), str(other)]
    assert at.dataframe[1].value["model"].tolist() == ["nb", "lr", "bert"]
    box.set_value(other).run()
    _no_exception(at)
    assert at.dataframe[1].value["model"].tolist() == ["lr"]
    for page in ("overview", "analyze", "compare", "errors", "batch"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        labels = [w.label.lower() for w in at.text_input] + [w.label.lower() for w in at.text_area]
        assert not [lab for lab in labels if "path" in lab or "folder" in lab or "file" in lab], page


def _train_upload(at, name: str, raw: bytes):
    at.file_uploader(key="train_upload").set_value((name, raw, "text/csv"))
    return next(b for b in at.button if b.label.startswith("Train")).click().run()


def test_train_from_the_app_with_an_upload(tmp_path, fixture_csv, monkeypatch):
    monkeypatch.setenv("MHX_CACHE_DIR", str(tmp_path / "cache"))
    at = _app(tmp_path / "m", monkeypatch, allow_training=True)
    assert at.radio(key="train_source").options[0] == "an uploaded CSV"
    _train_upload(at, "posts.csv", fixture_csv.read_bytes())
    _no_exception(at)
    manifest = json.loads((tmp_path / "m" / "lr" / "manifest.json").read_text())
    assert manifest["data"]["file"] == "posts.csv" and manifest["data"]["rows"] > 100
    # the Kaggle file's columns were preselected: its preset, with its five names
    assert manifest["data"]["columns"]["preset"] == "kaggle" and manifest["labels"] == list(KAGGLE_LABELS)
    at.run()
    assert at.dataframe[1].value["model"].tolist() == ["nb", "lr"]


def test_train_from_the_servers_dataset(tmp_path, fixture_csv, monkeypatch):
    monkeypatch.setenv("MHX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MHX_DATA", str(fixture_csv))  # the operator's dataset; visitors never name a path
    at = _app(tmp_path / "m", monkeypatch, allow_training=True)
    at.radio(key="train_source").set_value("the dataset on this server")
    next(b for b in at.button if b.label.startswith("Train")).click().run()
    _no_exception(at)
    assert json.loads((tmp_path / "m" / "nb" / "manifest.json").read_text())["data"]["file"] == fixture_csv.name


def test_train_from_the_app_with_bad_or_oversized_data(tmp_path, monkeypatch):
    at = _app(tmp_path / "m", monkeypatch, allow_training=True)
    _train_upload(at, "bad.csv", b"a,b\n1,2\n")
    _no_exception(at)
    assert at.selectbox(key="train_text").value is None  # no Kaggle columns: none is guessed
    assert _errors(at) == ["Choose the text column and the label column first."]
    _train_upload(at, "big.csv", b"text,title,target\n" + b"x" * 10**7)
    assert "the limit is 10 MB (10,000,000 bytes)" in _errors(at)[0]
    _train_upload(at, "posts.json", b"text,title,target\nx,y,0\n")
    _no_exception(at)
    assert "posts.json is not a CSV file" in _errors(at)[0]
    assert not (tmp_path / "m").exists()


def test_markdown_in_an_upload_is_shown_as_text(three_models_dir, monkeypatch):
    header = b"![x](https://example.invalid/track.png) <img src=x> :red[alert],body\nx,y\n"
    at = _batch_upload(three_models_dir, monkeypatch, "![pic](https://example.invalid/p.png).csv", header)
    raw = at.error[0].value
    assert "![" not in raw and "](" not in raw and "<img" not in raw and ":red[" not in raw
    assert "has no column named 'text'" in _shown(raw)


def test_batch_page_notes_odd_rows_and_scores_every_row(three_models_dir, monkeypatch):
    rows = [f"Title {i},panic attack number {i}" for i in range(80)]
    rows[68] = "t," + "x" * 200_001
    rows[3] = ","
    at = _batch_upload(three_models_dir, monkeypatch, "posts.csv", ("title,text\n" + "\n".join(rows)).encode())
    assert "row 5 (no text), row 70 (truncated to its first 200,000 characters)" in _shown(at.warning[0].value)
    table = at.dataframe[0].value
    assert table["row"].tolist() == list(range(2, 82)) and table["note"][68] and not table["note"][67]


def test_an_unexpected_error_is_one_line_not_a_traceback(three_models_dir, monkeypatch, caplog):
    import mhexplain.evaluation.compare

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail that must not reach a visitor")

    monkeypatch.setattr(mhexplain.evaluation.compare, "summary_table", boom)
    at = _app(three_models_dir, monkeypatch)
    assert not at.exception
    assert _errors(at) == [UNEXPECTED]
    shown = [e.value for e in (*at.markdown, *at.code, *at.caption, *at.error, *at.warning)]
    assert not [v for v in shown if "internal detail" in v]
    assert any("unexpected error in page 'Overview'" in r.getMessage() and r.exc_info for r in caplog.records)


def test_short_and_one_word_posts_explain_without_errors(three_models_dir, tmp_path, monkeypatch):
    d = tmp_path / "models"
    for name in ("nb", "lr"):
        shutil.copytree(three_models_dir / name, d / name)
    at = _app(d, monkeypatch)
    at.switch_page(f"{PAGES}/analyze.py").run()
    for post, method in (("panic attack", "lime"), ("panic attack", "shap"), ("panic", "shap"), ("panic", "lime")):
        at.text_area(key="post").set_value(post).run()
        next(b for b in at.button if b.label == "Analyze").click().run()
        for m in at.metric:  # the class, or "uncertain" with the class as its best guess
            assert m.value == "Anxiety" or (m.value == "uncertain" and "best guess Anxiety" in m.delta), post
        at.radio[0].set_value(method).run()
        next(b for b in at.button if b.label == "Explain with every model").click().run()
        _no_exception(at)
        assert len(at.get("html")) == 2 and not at.error, (post, method)
        table = at.dataframe[-1].value
        assert table["k"].tolist() == [len(post.split())] and "top-k overlap" in table.columns


def test_partial_and_corrupt_models(three_models_dir, tmp_path, monkeypatch):
    d = tmp_path / "models"
    shutil.copytree(three_models_dir / "lr", d / "lr")
    shutil.copytree(three_models_dir / "nb", d / "nb")
    (d / "nb" / "model.skops").write_bytes(b"broken")
    at = _app(d, monkeypatch)
    _no_exception(at)
    at.switch_page(f"{PAGES}/analyze.py").run()
    _no_exception(at)
    caption = " ".join(_shown(c.value) for c in at.caption)
    assert "bert (not trained)" in caption and "nb (" in caption
    at.text_area(key="post").set_value("panic attack again").run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    assert [m.label for m in at.metric] == ["Logistic Regression"]


def test_compare_page_runs_the_shortcut_probe(trained_dir, monkeypatch):
    from mhexplain.trust.shortcuts import CONDITION_WORDS

    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    about = next(_shown(c.value) for c in at.caption if "The shortcut probe deletes" in c.value)
    assert all(word in about for word in CONDITION_WORDS)  # "hypomanic" was missing from a copy of the list
    next(b for b in at.button if b.label == "Run the shortcut probe").click().run()
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "posts" in d.value.columns and "macro F1" in d.value.columns)
    assert table["posts"].tolist() == ["as written", "condition words deleted", "random words deleted"] * 2
    assert any("names a class" in c.value for c in at.caption)
    # BERT is not trained in this folder: the page says so once, and not as a model the probe failed on
    assert not (trained_dir / "bert").exists()
    assert not [c.value for c in at.caption if _shown(c.value).startswith("Not probed")]


def test_compare_page_probes_words_a_reader_picks(trained_dir, monkeypatch):
    at = _probe_on_compare(trained_dir, monkeypatch)
    words = next(d.value for d in at.dataframe if list(d.value.columns) == ["model", "class", "words"])
    assert words["model"].tolist() == ["nb"] * 5 + ["lr"] * 5 and words["words"].str.len().gt(0).all()
    # the generator's class words lead each class's list for the model that learned them
    stress = words[(words["model"] == "lr") & (words["class"] == "stress")]["words"].iloc[0].split(", ")
    assert set(stress[:3]) & set(CLASS_WORDS[0])
    pick = stress[0]
    at.multiselect(key="probe_words").set_value([pick])
    at.text_input(key="probe_typed").set_value("zzqword, panic*").run()
    next(b for b in at.button if b.label == "Probe these words").click().run()
    _no_exception(at)
    assert any(f"Deleted: {pick}, zzqword, panic*." in c for c in _captions(at))
    tables = [d.value for d in at.dataframe if "posts" in d.value.columns and "macro F1" in d.value.columns]
    assert len(tables) == 2 and tables[1]["posts"].tolist() == tables[0]["posts"].tolist()
    at.text_input(key="probe_typed").set_value("<b>bold</b>").run()
    next(b for b in at.button if b.label == "Probe these words").click().run()
    assert any("is not a word" in e for e in _errors(at))


def _probe_on_compare(models_dir, monkeypatch) -> AppTest:
    at = _app(models_dir, monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    next(b for b in at.button if b.label == "Run the shortcut probe").click().run()
    _no_exception(at)
    return at


def test_the_probe_names_a_model_that_cannot_load_and_probes_the_rest(trained_dir, tmp_path, monkeypatch):
    d = tmp_path / "models"
    for name in ("nb", "lr"):
        shutil.copytree(trained_dir / name, d / name)
    skops = d / "nb" / "model.skops"
    skops.write_bytes(skops.read_bytes()[:100])
    at = _probe_on_compare(d, monkeypatch)
    assert any(_shown(c.value).startswith("Not probed: nb (") for c in at.caption)
    table = next(t.value for t in at.dataframe if "posts" in t.value.columns and "macro F1" in t.value.columns)
    assert table["model"].unique().tolist() == ["lr"]
    assert any("names a class" in c.value for c in at.caption)

    skops = d / "lr" / "model.skops"
    skops.write_bytes(skops.read_bytes()[:100])
    at = _probe_on_compare(d, monkeypatch)
    assert [_shown(w.value) for w in at.warning] == ["No model of this folder could be probed."]
    assert any(_shown(c.value).startswith("Not probed: nb (") and "; lr (" in _shown(c.value) for c in at.caption)
    assert not [t for t in at.dataframe if "macro F1" in t.value.columns and "posts" in t.value.columns]


def test_analyze_flags_condition_words_among_the_top_words(trained_dir, monkeypatch):
    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/analyze.py").run()
    at.text_area(key="post").set_value("anxiety and panic again, anxiety all day").run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    next(b for b in at.button if b.label == "Explain with every model").click().run()
    _no_exception(at)
    flagged = [c.value for c in at.caption if "words that name a class" in _shown(c.value)]
    assert len(flagged) == 2 and all("anxiety" in _shown(c) for c in flagged)


def test_batch_page_validates_on_an_external_labelled_file(trained_dir, monkeypatch):
    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/batch.py").run()
    rows = (["id,body,sub"] + [f"{i},panic attack heart racing worried {i},Anx" for i in range(20)]
            + [f"{i},so sad empty hopeless alone {i},Dep" for i in range(20)]
            + [f"{i},cannot focus,ADHD" for i in range(5)])
    at.file_uploader(key="ext_upload").set_value(("ext.csv", "\n".join(rows).encode(), "text/csv")).run()
    _no_exception(at)
    at.selectbox(key="ext_text").set_value("body")
    at.selectbox(key="ext_label").set_value("sub").run()
    assert at.selectbox(key="ext_title").options == ["(none)", "id", "body", "sub"]  # plain text, no backslashes
    labels = {at.selectbox(key=f"map-{i}").label: f"map-{i}" for i in range(3)}
    assert at.selectbox(key=labels["Anx"]).options == ["(drop)", "Stress", "Depression", "Bipolar",
                                                       "Personality disorder", "Anxiety"]
    at.selectbox(key=labels["Anx"]).set_value(KAGGLE_LABELS.index("anxiety"))  # class ids, shown by name
    at.selectbox(key=labels["Dep"]).set_value(KAGGLE_LABELS.index("depression"))
    next(b for b in at.button if b.label == "Evaluate").click().run()
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "macro F1 (classes present)" in d.value.columns)
    assert table["model"].tolist() == ["nb", "lr"] and (table["posts"] == 40).all()
    assert {"recall anxiety [95% CI]", "recall depression [95% CI]"} <= set(table.columns)
    assert any("dropped 5 with unmapped labels" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Recalibrate on this file").click().run()
    assert any("at least 100 labelled posts of the new source, not 40" in e for e in _errors(at))


def test_batch_page_recalibrates_on_a_labelled_sample(trained_dir, tmp_path, monkeypatch):
    raw = noisy_source(tmp_path / "forum.csv").read_bytes()
    at = _app(trained_dir, monkeypatch)
    at.switch_page(f"{PAGES}/batch.py").run()
    at.file_uploader(key="ext_upload").set_value(("forum.csv", raw, "text/csv")).run()
    at.selectbox(key="ext_text").set_value("text")
    at.selectbox(key="ext_title").set_value("title")
    at.selectbox(key="ext_label").set_value("target").run()
    next(b for b in at.button if b.label == "Evaluate").click().run()
    _no_exception(at)
    summary = next(d.value for d in at.dataframe if "macro F1 (classes present)" in d.value.columns)
    assert (summary["ECE floor"] > 0).all() and (summary["ECE floor"] < summary["ECE"] + 0.2).all()
    # posts like the training posts: the validation tab tests the file for shift too
    assert any(c.startswith("No shift detected (a classifier") for c in _captions(at))
    next(b for b in at.button if b.label == "Recalibrate on this file").click().run()
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "calibration" in d.value.columns)
    assert table["model"].tolist() == ["nb", "nb", "lr", "lr"]
    assert table["calibration"].tolist() == ["as trained", "recalibrated"] * 2
    # predictions do not change under recalibration: accuracy is the same before and after
    assert table["accuracy"].iloc[0] == table["accuracy"].iloc[1] and table["accuracy"].iloc[2] == table[
        "accuracy"].iloc[3]
    assert any("-fold cross-validation on" in c for c in _captions(at))
    assert any("--recalibrate" in c.value for c in at.code)  # the operator's command; nothing written here
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forum.csv"]


def test_pages_say_when_a_model_is_a_calibration_variant(trained_dir, tmp_path, monkeypatch):
    from mhexplain.cli.evaluate import main as evaluate

    data = noisy_source(tmp_path / "forum.csv")
    assert evaluate(["--models-dir", str(trained_dir), "--data", str(data), "--text-col", "text", "--label-col",
                     "target", "--recalibrate", str(tmp_path / "variants")]) == 0
    at = _app([trained_dir, tmp_path / "variants"], monkeypatch)
    at.selectbox(key="models_dir").set_value(str(tmp_path / "variants")).run()
    assert any(" · recalibrated " in md.value for md in at.sidebar.markdown)
    for page in ("analyze", "compare", "batch"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        _no_exception(at)
        if page == "compare":  # the originals' folder is of the same protocol: no leakage table of the two
            assert not [d for d in at.dataframe if "macro F1 (leakage-free)" in d.value.columns]
        assert any(f"calibration refitted on {len(pd.read_csv(data))} posts of forum.csv" in c
                   for c in _captions(at)), page


def test_leakage_report_and_paired_differences(trained_dir, fixture_csv, tmp_path, monkeypatch):
    from mhexplain.cli.train import main

    posts = pd.read_csv(fixture_csv, keep_default_na=False)
    dup = tmp_path / "dup.csv"
    pd.concat([posts, posts.iloc[::4]], ignore_index=True).to_csv(dup, index=False)  # copies, as in the data
    ref = tmp_path / "reference"
    assert main(["--data", str(dup), "--out", str(ref), "--protocol", "reference", "--jobs", "1",
                 "--cache-dir", str(tmp_path / "c")]) == 0
    at = _app([trained_dir, ref], monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    _no_exception(at)
    tests = next(d.value for d in at.dataframe if "McNemar p" in d.value.columns)
    assert "A − B 95% CI (paired bootstrap)" in tests.columns
    report = next(d.value for d in at.dataframe if "macro F1 (reference)" in d.value.columns)
    assert report["model"].tolist() == ["nb", "lr"]
    copies = report["test posts with a copy in training"]
    assert (copies > 0).all() and (report["accuracy on the copies"].between(0, 1)).all()


def test_tables_show_one_number_format(trained_dir, monkeypatch):
    at = _app(trained_dir, monkeypatch)
    for page in ("overview", "errors", "compare"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        _no_exception(at)
        for d in at.dataframe:
            config = json.loads(d.proto.columns or "{}")
            for col in d.value.columns:
                if pd.api.types.is_float_dtype(d.value[col]):
                    assert config.get(str(col), {}).get("type_config", {}).get("format") == "%.3f", (page, col)
    tests = next(d.value for d in at.dataframe if "McNemar p" in d.value.columns)
    assert tests["McNemar p"].str.fullmatch(r"< 0\.001|[01]\.\d{3}").all()


def test_models_tested_on_different_posts_say_so(trained_dir, fixture_csv, tmp_path, monkeypatch):
    from mhexplain.cli.train import main

    posts = pd.read_csv(fixture_csv, keep_default_na=False)
    more = tmp_path / "more.csv"  # the same rows first, then copies: another test set, partly the same posts
    pd.concat([posts, posts.iloc[::3]], ignore_index=True).to_csv(more, index=False)
    other = tmp_path / "other"
    assert main(["--data", str(more), "--out", str(other), "--models", "lr", "--protocol", "reference",
                 "--seed", "7", "--jobs", "1", "--cache-dir", str(tmp_path / "c")]) == 0
    mixed = tmp_path / "mixed"
    shutil.copytree(trained_dir / "nb", mixed / "nb")
    shutil.copytree(other / "lr", mixed / "lr")
    sizes = [len(pd.read_csv(mixed / n / "predictions.csv")) for n in ("nb", "lr")]
    assert sizes[0] != sizes[1]
    at = _app(mixed, monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    _no_exception(at)
    (note,) = [_shown(i.value) for i in at.info[1:]]
    assert f"(Naive Bayes {sizes[0]:,}, Logistic Regression {sizes[1]:,})" in note and "shared" in note
    shared = int(re.search(r"([\d,]+) test posts are shared", note).group(1).replace(",", ""))
    assert 0 < shared < min(sizes)
    assert at.toggle[0].value  # rates, not counts from sets of two sizes
    assert (next(d.value for d in at.dataframe if "McNemar p" in d.value.columns)["posts"] == shared).all()
    at.switch_page(f"{PAGES}/errors.py").run()
    _no_exception(at)
    assert any(c.value.startswith(f"{shared:,} of {shared:,} test posts shared by every model") for c in at.caption), \
        [c.value for c in at.caption] + [w.value for w in at.warning]


def _chart(at, k: int) -> dict:
    return json.loads(at.get("plotly_chart")[k].proto.spec)


BINARY_CAPTION = "Dataset: risk.csv, 2 classes: no risk, at risk; split by author"
MANY_CAPTION = "Dataset: topics.csv, 20 classes: art, biology, chess, dance, economics, film, … (14 more)"


@pytest.mark.parametrize("folder, caption, labels", [("binary_dir", BINARY_CAPTION, BINARY_LABELS),
                                                     ("many_dir", MANY_CAPTION, MANY_LABELS)])
def test_every_page_runs_on_a_binary_and_a_20_class_folder(folder, caption, labels, request, monkeypatch):
    shown = [name[0].upper() + name[1:] for name in labels]
    at = _app(request.getfixturevalue(folder), monkeypatch)
    for page in ("overview", "analyze", "errors", "batch", "compare"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        _no_exception(at)
        assert not _errors(at) and caption in _captions(at), page
        if page == "overview":  # posts per class, training and test: a table, down the page past 8 classes
            counts = next(d.value for d in at.dataframe if "test posts" in d.value.columns
                          or "test posts" in d.value.index)
            classes = list(counts.index if len(labels) > 8 else counts.columns)
            assert classes == shown
        if page == "errors":
            assert at.selectbox(key="true_class").options == ["any class", *shown]
            at.selectbox(key="true_class").set_value(shown[1]).run()
            table = at.dataframe[0].value
            assert len(table) and (table["true class"] == shown[1]).all()
    # Compare: a matrix per model over the folder's own classes, a point per class and model
    for k in (0, 1):
        matrix = _chart(at, k)["data"][0]
        assert matrix["x"] == shown and matrix["y"] == shown
    points = _chart(at, 2)["data"]
    assert [t["name"] for t in points] == [*shown, "Naive Bayes", "Logistic Regression"]
    assert len(next(d.value for d in at.dataframe if "nb" in d.value.columns and "lr" in d.value.columns)) == \
        len(labels)  # per-class F1


def test_compare_shows_agreement_with_coders_and_the_group_split(binary_dir, monkeypatch):
    at = _app(binary_dir, monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    _no_exception(at)
    assert "Agreement with human coders" in [s.value for s in at.subheader]
    table = next(d.value for d in at.dataframe if "Cohen's κ" in d.value.columns)
    pairs = [(a, b) for i, a in enumerate(CODERS) for b in CODERS[i + 1:]]
    assert list(zip(table["between"], table["and"]))[:3] == pairs
    for model in ("nb", "lr"):  # against each coder and their majority
        assert table[table["between"] == model]["and"].tolist() == [*CODERS, "majority of coders"]
    metrics = json.loads((binary_dir / "lr" / "metrics.json").read_text())["coder_agreement"]
    lr = table[(table["between"] == "lr") & (table["and"] == "coder_a")].iloc[0]
    assert lr["Cohen's κ"] == f"{round(metrics['models']['lr']['coders']['coder_a']['kappa'], 2):.2f}"
    captions = _captions(at)
    assert any("Krippendorff's α between the coders" in c for c in captions)
    assert sum(c.startswith(("nb's mean Cohen's κ", "lr's mean Cohen's κ")) for c in captions) == 2
    leak = next(d.value for d in at.dataframe if "groups on both sides" in d.value.columns)
    assert leak["model"].tolist() == ["nb", "lr"] and (leak["grouped by"] == "author").all()
    assert (leak["groups on both sides"] == 0).all() and (leak["row-level split: groups on both sides"] > 0).all()


def test_analyze_and_explain_on_a_binary_folder(binary_dir, monkeypatch):
    post = pd.read_csv(binary_dir / "lr" / "predictions.csv", keep_default_na=False)["text"].iloc[0]
    at = _app(binary_dir, monkeypatch)
    at.switch_page(f"{PAGES}/analyze.py").run()
    at.text_area(key="post").set_value(post).run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    _no_exception(at)
    assert set(_best_guesses(at).values()) <= {"No risk", "At risk"}
    assert _chart(at, 0)["data"][0]["x"] == ["No risk", "At risk"]
    box = at.selectbox(key="explain_class")
    assert box.options == ["predicted class", "No risk", "At risk"]
    box.set_value(1)  # class ids, shown by name
    at.select_slider[0].set_value(100).run()
    next(b for b in at.button if b.label == "Explain with every model").click().run()
    _no_exception(at)
    assert len(at.get("html")) == 2
    cards = [_shown(m.value) for m in at.markdown if "→" in m.value]
    assert [c.split(" (p=")[0] for c in cards] == ["**Naive Bayes** → At risk", "**Logistic Regression** → At risk"]


def test_batch_scores_a_file_with_the_models_label_column(binary_dir, binary_csv, monkeypatch):
    """A binary folder trained on a 'label' column: an upload's metrics read its 'label' column,
    holding class names, or class numbers."""
    rows = pd.read_csv(binary_csv, keep_default_na=False).head(40)
    upload = pd.DataFrame({"body": rows["body"], "headline": rows["headline"], "label": rows["label"]})
    upload.loc[5, "label"] = "maybe"  # none of the classes: left out, and said so
    at = _batch_upload(binary_dir, monkeypatch, "risk.csv", upload.to_csv(index=False).encode())
    # the columns the models were trained on: body, headline and label
    assert any("a CSV with a “body” column (optional “headline”, optional label column “label” holding one of the "
               "models' 2 classes, or its number 0–1)" in _shown(m.value) for m in at.markdown)
    assert at.dataframe[0].value["note"].eq("").all()  # every row's body was read
    metrics = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert metrics["model"].tolist() == ["nb", "lr"] and "macro F1 (2 classes)" in metrics.columns
    assert (metrics["posts"] == 39).all()
    assert "row(s) 7, whose label is blank or none of the models' classes" in _shown(at.warning[0].value)
    assert [_chart(at, k)["data"][0]["x"] for k in (0, 1)] == [["No risk", "At risk"]] * 2
    numbers = upload.assign(label=[str(BINARY_LABELS.index(v)) for v in rows["label"]])
    at.file_uploader(key="upload").set_value(("risk.csv", numbers.to_csv(index=False).encode(), "text/csv")).run()
    _no_exception(at)
    assert (next(d.value for d in at.dataframe if "accuracy" in d.value.columns)["posts"] == 40).all()


def test_external_validation_maps_a_files_labels_onto_twenty_classes(many_dir, many_csv, monkeypatch):
    rows = pd.read_csv(many_csv, keep_default_na=False)
    rows = rows[rows["label"].isin(["art", "chess", "jazz"])]
    ext = pd.DataFrame({"post": rows["body"], "topic": rows["label"].str.upper().replace({"JAZZ": "swing"})})
    at = _app(many_dir, monkeypatch)
    at.switch_page(f"{PAGES}/batch.py").run()
    at.file_uploader(key="ext_upload").set_value(("ext.csv", ext.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="ext_text").set_value("post")
    at.selectbox(key="ext_label").set_value("topic").run()
    boxes = {b.label: b for b in at.selectbox if b.key and b.key.startswith("map-")}
    assert len(boxes["ART"].options) == 21  # (drop) and the models' twenty classes
    # a label that names one of the models' classes starts mapped to it; another starts dropped
    assert (boxes["ART"].value, boxes["CHESS"].value, boxes["swing"].value) == (0, 2, None)
    boxes["swing"].set_value(MANY_LABELS.index("jazz"))
    next(b for b in at.button if b.label == "Evaluate").click().run()
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "macro F1 (classes present)" in d.value.columns)
    assert (table["posts"] == len(rows)).all()
    assert {"recall art [95% CI]", "recall chess [95% CI]", "recall jazz [95% CI]"} <= set(table.columns)
    assert _chart(at, 0)["data"][0]["x"] == [name[0].upper() + name[1:] for name in MANY_LABELS]


def test_models_of_different_label_sets_are_refused_in_one_line(binary_dir, trained_dir, tmp_path, monkeypatch):
    mixed = tmp_path / "mixed"
    shutil.copytree(binary_dir / "nb", mixed / "nb")
    shutil.copytree(trained_dir / "lr", mixed / "lr")
    refusal = ("cannot compare models trained on different label sets (nb: 2 classes (no risk, at risk); lr: 5 "
               "classes (stress, depression, bipolar, …)); choose models trained on one dataset.")
    at = _app(mixed, monkeypatch)
    _no_exception(at)  # the overview is a view of each model: one data section per dataset
    assert not _errors(at) and sum("training posts" in d.value.index for d in at.dataframe) == 2
    assert "Datasets: Naive Bayes on risk.csv, 2 classes: no risk, at risk; split by author; Logistic " \
           "Regression on posts.csv, 5 classes: stress, depression, bipolar, personality disorder, anxiety" \
           in _captions(at)
    for page in ("compare", "errors", "analyze"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        _no_exception(at)
        assert _errors(at) == [refusal], page
        assert not at.get("plotly_chart") and not at.dataframe and not at.text_area, page
    # one of them alone is no comparison: the page shows it
    at.switch_page(f"{PAGES}/compare.py").run()
    at.multiselect(key="compare_models").set_value(["nb"]).run()
    _no_exception(at)
    assert not _errors(at) and BINARY_CAPTION in _captions(at)
    assert "Agreement with human coders" in [s.value for s in at.subheader]
    at.switch_page(f"{PAGES}/batch.py").run()
    at.file_uploader(key="upload").set_value(("p.csv", b"text,target\npanic attack,4\nso sad,1\n", "text/csv")).run()
    _no_exception(at)
    assert len(at.dataframe[0].value) == 2  # each model's predictions; one file's metrics would compare them
    assert _errors(at) == [refusal.replace("cannot compare", "cannot compute one file's metrics for")]
    at.file_uploader(key="ext_upload").set_value(("e.csv", b"body,sub\npanic attack,a\nso sad,b\n", "text/csv"))
    at.run()
    assert _errors(at)[-1] == refusal.replace("cannot compare", "cannot evaluate together")


def test_train_from_an_upload_with_its_own_columns(tmp_path, binary_csv, monkeypatch):
    monkeypatch.setenv("MHX_CACHE_DIR", str(tmp_path / "cache"))
    at = _app(tmp_path / "m", monkeypatch, allow_training=True)
    name = "risk [notes](javascript:alert(1)) *v2* <b>.csv"  # the visitor's text, shown as written
    at.file_uploader(key="train_upload").set_value((name, binary_csv.read_bytes(), "text/csv")).run()
    _no_exception(at)
    header = pd.read_csv(binary_csv, nrows=0).columns.tolist()
    assert at.selectbox(key="train_text").options == header and at.selectbox(key="train_text").value is None
    assert at.selectbox(key="train_group").options == ["(none)", *header]
    at.selectbox(key="train_text").set_value("body")
    at.selectbox(key="train_title").set_value("headline")
    at.selectbox(key="train_label").set_value("label")
    at.selectbox(key="train_group").set_value("author")
    at.multiselect(key="train_coders").set_value(list(CODERS))
    at.text_input(key="train_labels").set_value("no risk, at risk")
    next(b for b in at.button if b.label.startswith("Train")).click().run()
    _no_exception(at)
    manifest = json.loads((tmp_path / "m" / "lr" / "manifest.json").read_text())
    assert manifest["labels"] == list(BINARY_LABELS) and manifest["data"]["file"] == name
    assert manifest["data"]["columns"]["group"] == "author" and manifest["split"]["grouping"]["groups_in_both"] == 0
    assert json.loads((tmp_path / "m" / "nb" / "metrics.json").read_text())["coder_agreement"]["coders"] == \
        list(CODERS)
    at.run()
    _no_exception(at)
    caption = f"Dataset: {name}, 2 classes: no risk, at risk; split by author"
    assert caption in _captions(at)
    raw = next(c.value for c in at.caption if "Dataset" in c.value)
    assert "](" not in raw and "*v2*" not in raw and "<b>" not in raw  # no link, no emphasis, no HTML


def test_training_refuses_label_names_with_markup_in_one_line(tmp_path, monkeypatch):
    at = _app(tmp_path / "m", monkeypatch, allow_training=True)
    rows = "".join(f"post number {i},{'<img src=x>' if i % 2 else 'calm'}\n" for i in range(40))
    at.file_uploader(key="train_upload").set_value(("x.csv", f"post,tag\n{rows}".encode(), "text/csv")).run()
    at.selectbox(key="train_text").set_value("post")
    at.selectbox(key="train_label").set_value("tag")
    next(b for b in at.button if b.label.startswith("Train")).click().run()
    _no_exception(at)
    (error,) = _errors(at)
    assert "'tag'" in error and "rename it" in error and "<img" not in error
    assert not (tmp_path / "m").exists()


def test_the_leakage_report_refuses_a_folder_of_another_label_set(binary_dir, trained_dir, monkeypatch):
    at = _app([binary_dir, trained_dir], monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    _no_exception(at)
    (error,) = _errors(at)  # only that section: the folder's own comparison is all there
    assert error.startswith("cannot compare models trained on different label sets (nb: 2 classes (no risk, at risk)")
    assert "Agreement with human coders" in [s.value for s in at.subheader]
    assert not [d for d in at.dataframe if "macro F1 (reference)" in d.value.columns]


def test_compare_and_analyze_show_a_cascade_and_an_ensemble(combined_dir, monkeypatch):
    at = _app(combined_dir, monkeypatch)
    at.switch_page(f"{PAGES}/compare.py").run()
    _no_exception(at)
    assert "Models that work together" in [s.value for s in at.subheader]
    table = next(d.value for d in at.dataframe if "members' posts/s" in d.value.columns)
    assert table["model"].tolist() == ["Cascade", "Ensemble"] and (table["posts/s"] > 0).all()
    curve = next(c for c in at.get("plotly_chart") if "sent to the second member" in c.proto.spec)
    assert "operating point" in curve.proto.spec and "alone" in curve.proto.spec
    next(b for b in at.button if b.label.startswith("Time them on this machine")).click().run()
    _no_exception(at)
    timed = [d.value for d in at.dataframe if "posts/s here" in d.value.columns]
    assert [t["model"].tolist() for t in timed] == [["N-gram LR", "Logistic Regression", "Cascade"],
                                                    ["Logistic Regression", "N-gram LR", "Ensemble"]]
    assert all((t["posts/s here"] > 0).all() for t in timed)
    at.switch_page(f"{PAGES}/analyze.py").run()
    post = read_predictions(combined_dir / "cascade")["text"].iloc[0]
    at.text_area(key="post").set_value(post).run()
    next(b for b in at.button if b.label == "Analyze").click().run()
    _no_exception(at)
    assert [m.label for m in at.metric] == ["Logistic Regression", "N-gram LR", "Cascade", "Ensemble"]
    who = read_predictions(combined_dir / "cascade")["answered_by"].iloc[0]
    assert f"Cascade gave {'N-gram LR' if who == 'ngram' else 'Logistic Regression'}'s answer." in _captions(at)
    next(b for b in at.button if b.label == "Explain with every model").click().run()
    _no_exception(at)
    assert any("this is" in c and "explanation" in c and c.startswith("cascade gives") for c in _captions(at))
    assert len(at.get("html")) == 4
