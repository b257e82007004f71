"""The Streamlit app as a user drives it (streamlit.testing AppTest), on models trained in the test session."""
import json
import os
import re
import shutil

import pandas as pd
from streamlit.testing.v1 import AppTest

from webapp.ui import UNEXPECTED

from .helpers import ROOT

TIMEOUT = 120
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
    (flag,) = [_shown(e.value) for e in (*at.success, *at.warning)]
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
    assert [_shown(w.value) for w in at.warning] == [
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
    assert at.subheader[0].value.startswith(f"Post #{first['post_id']}")
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
    assert "lacks the column(s)" in _errors(at)[0]
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
    assert any("name a condition" in c.value for c in at.caption)
    # BERT is not trained in this folder: the page says so once, and not as a model the probe failed on
    assert not (trained_dir / "bert").exists()
    assert not [c.value for c in at.caption if _shown(c.value).startswith("Not probed")]


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
    assert any("name a condition" in c.value for c in at.caption)

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
    flagged = [c.value for c in at.caption if "words that name a condition" in _shown(c.value)]
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
    at.selectbox(key=labels["Anx"]).set_value("Anxiety")
    at.selectbox(key=labels["Dep"]).set_value("Depression")
    next(b for b in at.button if b.label == "Evaluate").click().run()
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "macro F1 (classes present)" in d.value.columns)
    assert table["model"].tolist() == ["nb", "lr"] and (table["posts"] == 40).all()
    assert {"recall anxiety [95% CI]", "recall depression [95% CI]"} <= set(table.columns)
    assert any("dropped 5 with unmapped labels" in c.value for c in at.caption)


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
