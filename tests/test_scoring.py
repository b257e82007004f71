"""The one scoring path: rows -> model inputs -> calibrated probabilities -> abstention -> one table,
whichever way the posts come in (the Batch page, `score`, `evaluate`, `probe`, the Analyze page)."""
import csv
import io

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts.registry import load_classifier, load_models, select_models
from mhexplain.cli import evaluate as evaluate_cli
from mhexplain.cli import probe as probe_cli
from mhexplain.cli import score as score_cli
from mhexplain.core.classifier import MAX_POST_CHARS, abstains, abstention_threshold
from mhexplain.core.errors import DataError
from mhexplain.datasets import csvfile, posts
from mhexplain.evaluation.external import prepare_rows, upload_metrics
from mhexplain.evaluation.post import compare_post
from mhexplain.scoring import upload
from mhexplain.scoring.inputs import NO_TEXT, TRUNCATED, model_input
from mhexplain.scoring.shift import shift_reference
from mhexplain.scoring.table import score_rows
from mhexplain.scoring.upload import MAX_ROWS, notes_text, score_upload


def _models(folder, names=("nb", "lr")):
    return {n: load_classifier(folder / n) for n in names}


def _awkward_csv() -> bytes:
    """Posts as users' files hold them: a blank line, an empty row, a post longer than a model reads,
    HTML entities, a title column."""
    rows = [["Exams", "so much pressure at work and exams"], ["Mood", "manic episode again &amp; lithium"],
            ["", "  "], ["Long", "panic " * (MAX_POST_CHARS // 6 + 10)], ["Sleep", "cannot sleep, worried sick"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["title", "text"])
    w.writerows(rows[:2])
    buf.write("\n")  # a blank line: no post, but a row a spreadsheet counts
    w.writerows(rows[2:])
    return buf.getvalue().encode()


def test_the_batch_download_is_the_file_score_writes(trained_dir, tmp_path):
    raw = _awkward_csv()
    data, out = tmp_path / "posts.csv", tmp_path / "pred.csv"
    data.write_bytes(raw)
    assert score_cli.main(["--models-dir", str(trained_dir), "--data", str(data), "--out", str(out)]) == 0
    reference = shift_reference(select_models(trained_dir))
    page = score_upload(raw, "posts.csv", load_models(trained_dir), reference=reference).scored.csv_text()
    assert page.encode() == out.read_bytes()
    table = pd.read_csv(out, keep_default_na=False)
    assert table["row"].tolist() == [2, 3, 5, 6, 7]  # as a spreadsheet numbers them; row 4 is the blank line
    assert table["note"].tolist() == ["", "", NO_TEXT, TRUNCATED, ""]
    assert table.loc[2, "lr_pred"] == "" and table.loc[3, "lr_pred"] != ""


def test_a_post_is_read_the_same_way_wherever_it_enters(trained_dir, tmp_path):
    models = _models(trained_dir)
    long_post = "panic " * (MAX_POST_CHARS // 6 + 10)
    text, note = model_input("", long_post)
    assert note == TRUNCATED and len(text) == MAX_POST_CHARS
    assert model_input("  ", "&amp;#x200B; ") == ("", NO_TEXT)
    # the Analyze page: the same input, the same note, the same probabilities as a file's row
    comp = compare_post(models, long_post)
    row = score_rows(models, [2], None, [long_post])
    assert (comp.text, comp.note) == (text, TRUNCATED) == (row.inputs[0], row.notes[0])
    for n in models:
        np.testing.assert_allclose(comp.proba[n], row.proba[n][0])
        np.testing.assert_allclose(comp.proba[n], models[n].predict_proba([text])[0])
    # external validation: the same inputs, and it counts what it truncated and dropped
    inputs, y, counts = prepare_rows(None, [long_post, " ", "so much pressure"], ["a", "a", "b"], {"a": 0, "b": 1})
    assert inputs == [text, "so much pressure"] and y.tolist() == [0, 1]
    assert counts == {"unmapped": 0, "empty": 1, "truncated": 1}


def test_uncertain_is_one_rule(trained_dir):
    models = _models(trained_dir)
    posts_ = ["so much pressure at work", "manic again", "maybe something"]
    scored = score_rows(models, [2, 3, 4], None, posts_)
    table = pd.DataFrame(scored.table_rows(), columns=scored.header())
    for n, clf in models.items():
        p = clf.predict_proba(posts_)
        want = abstains(p.max(1), abstention_threshold(clf))
        assert scored.uncertain(n).tolist() == want.tolist()
        assert table[f"{n}_uncertain"].astype(int).tolist() == want.astype(int).tolist()
        comp = compare_post({n: clf}, posts_[0])
        assert comp.uncertain[n] == bool(want[0])


class _OwnLabels:
    """A model with its own class names, in its own order, and no abstention threshold."""
    name, batch_size = "own", 8
    labels = ("worried", "calm", "=cmd|' /C calc'!A0", "high", "avoidant")

    def predict_proba(self, texts):
        return np.eye(5)[[k % 5 for k in range(len(texts))]]


def test_the_table_names_a_models_own_classes_and_is_spreadsheet_safe():
    scored = score_rows({"own": _OwnLabels()}, [2, 3, 4], None, ["a", "b", "c"], ids=["=1+1", "x", "y"])
    back = pd.read_csv(io.StringIO(scored.csv_text()), keep_default_na=False)
    assert back["own_pred"].tolist() == ["worried", "calm", "'=cmd|' /C calc'!A0"]
    assert back["id"].tolist() == ["'=1+1", "x", "y"]
    assert [c for c in back.columns if c.startswith("own_p_")][:2] == ["own_p_worried", "own_p_calm"]
    assert back["own_uncertain"].tolist() == ["", "", ""]  # no threshold: the model always answers
    assert all(not str(c).startswith(("=", "+", "-", "@")) for c in back.columns)
    shown = scored.frame(text_chars=1)
    assert shown["own_confidence"].dtype == float and shown["row"].tolist() == [2, 3, 4]
    assert list(shown.columns[:4]) == ["row", "id", "note", "text"] and shown["text"].tolist() == ["a", "b", "c"]


def test_an_upload_with_targets_gets_metrics_over_its_rows_with_text(trained_dir):
    raw = b"title,text,target\nExams,so much pressure at work and exams,0\n,,\nMood,manic episode again lithium,2\n"
    seen = []
    result = score_upload(raw, "posts.csv", _models(trained_dir), progress=seen.append)
    assert seen[-1] == pytest.approx(1.0)
    assert result.scored.notes == ["", NO_TEXT, ""] and result.target.tolist() == [0, -1, 2]
    assert result.unlabelled_rows() == []  # row 3 has no text: nothing to leave out
    m = upload_metrics(result)
    assert set(m) == {"nb", "lr"} and np.asarray(m["lr"]["confusion_matrix"]).sum() == 2
    assert m["lr"]["averaged_over"] == ["stress", "bipolar"]
    assert "row 3 (no text)" in notes_text(result.scored)


def test_an_upload_whose_target_has_gaps_is_scored_and_measured_on_the_rest(trained_dir):
    """A blank or non-numeric target refused the whole upload, which score scored."""
    raw = ("text,target\nso much pressure at work,0\nmanic again,\npanic attack,anxiety\nlithium and mania,2.0\n"
           ",1\nsad,\u00b2\nlow,\u0663\nfear,4.5\n").encode()  # 2.0: how pandas writes a column with a gap
    result = score_upload(raw, "gaps.csv", _models(trained_dir))
    # a class name counts as its number does; a blank, "²", an Arabic-Indic three and 4.5 are none
    assert result.scored.rows == [2, 3, 4, 5, 6, 7, 8, 9] and result.unlabelled_rows() == [3, 7, 8, 9]
    m = upload_metrics(result)
    assert np.asarray(m["lr"]["confusion_matrix"]).sum() == 3
    assert m["lr"]["averaged_over"] == ["stress", "bipolar", "anxiety"]
    empty = score_upload(b"text\n\n   \n", "empty.csv", _models(trained_dir))  # as score writes it: notes
    assert empty.scored.notes == [NO_TEXT] and upload_metrics(empty) == {}


def test_upload_metrics_average_over_the_classes_in_the_file():
    raw = b"text,target\nso much pressure,0\nmanic again,2\npanic attack,4\n"

    class Says:
        name, labels, batch_size = "m", ("stress", "depression", "bipolar", "personality disorder", "anxiety"), 8

        def __init__(self, pred):
            self.pred = pred

        def predict_proba(self, texts):
            return np.eye(5)[self.pred[:len(texts)]]

    m = upload_metrics(score_upload(raw, "three.csv", {"m": Says([0, 2, 4])}))["m"]
    assert (m["accuracy"], m["cohen_kappa"], m["macro_f1"]) == (1.0, 1.0, 1.0)
    assert m["averaged_over"] == ["stress", "bipolar", "anxiety"]
    wrong = upload_metrics(score_upload(raw, "three.csv", {"m": Says([0, 2, 1])}))["m"]
    assert wrong["macro_f1"] == pytest.approx((1 + 1 + 0) / 3)


@pytest.mark.parametrize("raw, needle", [
    (b"\x00\x01\x02binary", "binary"),
    (b"body,label\nx,1\n", "no column named 'text'"),
    (b"text\n" + b"post\n" * (MAX_ROWS + 1), "limit"),
])
def test_bad_uploads_are_refused_in_one_line(raw, needle):
    with pytest.raises(DataError, match=needle):
        score_upload(raw, "upload.csv", {})


def test_upload_limit_is_the_megabytes_the_browser_counts():
    """Streamlit's browser side refuses files over max_upload_size * 10**6 bytes and says "10MB":
    the app checks and names the same limit."""
    from mhexplain.settings import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB

    assert MAX_UPLOAD_BYTES == MAX_UPLOAD_MB * 10**6 == 10_000_000
    raw = b"text\n" + b"a" * (MAX_UPLOAD_BYTES - 4)
    with pytest.raises(DataError, match=r"big\.csv is 10\.00 MB \(10,000,001 bytes\); the limit is 10 MB "
                                        r"\(10,000,000 bytes\)\.$"):
        score_upload(raw, "big.csv", {})
    with pytest.raises(DataError, match=r"^posts\.json is not a CSV file"):
        score_upload(b"text\nhello\n", "posts.json", {})


def test_an_upload_is_measured_once(monkeypatch):
    """Each upload's size was checked twice: by the page (check_upload) and again by the reader."""
    measured = []
    real = csvfile.check_upload_size
    for module in (csvfile, posts, upload):  # wherever a caller finds it
        monkeypatch.setattr(module, "check_upload_size", lambda raw, name: measured.append(name) or real(raw, name),
                            raising=False)
    raw = b"text,title,target\nmy exams,stress,0\n"
    score_upload(raw, "score.csv", {})  # the Batch page's scoring tab
    assert measured == ["score.csv"]
    upload.check_upload("labelled.csv")  # the external-validation tab
    csvfile.read_table_upload(raw, "labelled.csv", MAX_ROWS)
    assert measured == ["score.csv", "labelled.csv"]


def test_upload_with_a_million_columns_is_refused_before_parsing():
    header = ",".join(f"c{i}" for i in range(1_100_000)).encode()
    with pytest.raises(DataError, match=r"1,100,000 columns in its header; at most 256"):
        score_upload(header + b"\n" + b"x\n", "wide.csv", {})
    with pytest.raises(DataError, match=r"row 2 has 1,000,001 fields but the header has 2"):
        score_upload(b"text,title\n" + b"," * 1_000_000 + b"\n", "wide-row.csv", {})


def test_models_is_read_one_way_by_every_command(trained_dir, tmp_path, capsys):
    """score refused an unknown --models name; evaluate and probe skipped it silently."""
    with pytest.raises(DataError, match="^--models: gpt is not a model name"):
        select_models(trained_dir, ["nb", "gpt"])
    with pytest.raises(DataError, match="No trained model bert in"):
        select_models(trained_dir, ["bert"])
    assert [m.name for m in select_models(trained_dir, ["lr"])] == ["lr"]
    assert [m.name for m in select_models(trained_dir, ["lr", " lr"])] == ["lr"]
    with pytest.raises(DataError, match="^--models names no model"):
        select_models(trained_dir, ["", " "])
    data = tmp_path / "posts.csv"
    data.write_bytes(b"text,label\nso much pressure,a\nmanic again,b\n")
    common = ["--models-dir", str(trained_dir), "--data", str(data), "--models", "nb,gpt"]
    runs = {"score": lambda: score_cli.main(common + ["--out", str(tmp_path / "o.csv"), "--title-col", ""]),
            "evaluate": lambda: evaluate_cli.main(common + ["--text-col", "text", "--label-col", "label",
                                                            "--label-map", "a=0,b=2"]),
            "probe": lambda: probe_cli.main(["--models-dir", str(trained_dir), "--models", "nb,gpt"])}
    for name, run in runs.items():
        assert run() == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["error: --models: gpt is not a model name; the models are nb, lr, ngram, bert, cascade, ensemble."], name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.csv"]


def test_a_line_break_in_an_id_keeps_every_row_one_record(trained_dir, tmp_path):
    """A bare CR was written unquoted: re-read, it split a row in two and shifted every row after it,
    and the part after it (a formula) reached the spreadsheet unescaped."""
    ids = [f"p{i}" for i in range(25)]
    ids[3], ids[11] = "\r=HYPERLINK(\"http://x\")", "a\nb\r\nc"
    data, out = tmp_path / "posts.csv", tmp_path / "pred.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows([i, f"so much pressure number {k}"] for k, i in enumerate(ids))
    assert score_cli.main(["--models-dir", str(trained_dir), "--data", str(data), "--out", str(out),
                           "--id-col", "id", "--chunk-size", "4"]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        back = list(csv.reader(f))[1:]
    assert [r[0] for r in back] == [str(k) for k in range(2, 27)]
    assert [r[1] for r in back] == ["'" + ids[3] if k == 3 else i for k, i in enumerate(ids)]


def test_score_reads_a_file_without_titles_as_the_batch_page_does(trained_dir, tmp_path, capsys):
    data, out = tmp_path / "posts.csv", tmp_path / "pred.csv"
    raw = b"text\nso much pressure at work\nmanic again\n"
    data.write_bytes(raw)
    assert score_cli.main(["--models-dir", str(trained_dir), "--data", str(data), "--out", str(out)]) == 0
    reference = shift_reference(select_models(trained_dir))
    page = score_upload(raw, "posts.csv", load_models(trained_dir), reference=reference)
    assert out.read_bytes() == page.scored.csv_text().encode()
    named = ["--models-dir", str(trained_dir), "--data", str(data), "--out", str(tmp_path / "o.csv")]
    assert score_cli.main(named + ["--title-col", "heading"]) == 2  # a title column asked for by name must be there
    assert "no column named 'heading'" in capsys.readouterr().err


@pytest.mark.parametrize("command, flags, message", [
    ("score", ["--text-col", " "], "argument --text-col: expected a value, got an empty one"),
    ("evaluate", ["--text-col", "text", "--label-col", "", "--label-map", "a=0"], "--label-col names no column"),
])
def test_an_empty_column_name_is_refused_before_any_work(trained_dir, tmp_path, capsys, command, flags, message):
    data = tmp_path / "posts.csv"
    data.write_bytes(b"text,label\nso much pressure,a\n")
    run = {"score": score_cli.main, "evaluate": evaluate_cli.main}[command]
    extra = ["--out", str(tmp_path / "o.csv")] if command == "score" else []
    with pytest.raises(SystemExit) as stop:
        run(["--models-dir", str(trained_dir), "--data", str(data)] + extra + flags)
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.csv"]
