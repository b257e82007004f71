import io

import numpy as np
import pandas as pd
import pytest

from mhexplain.analysis import compare_post
from mhexplain.artifacts import verify_artifact
from mhexplain.batch import MAX_ROWS, MAX_UPLOAD_BYTES, file_metrics, parse_upload, predictions_csv, score, skipped_text
from mhexplain.compare import (
    aligned,
    confusion,
    load_results,
    mcnemar,
    misclassified_per_class,
    pairwise_tests,
    per_class_table,
    pr_points,
    summary_table,
)
from mhexplain.errors import DataError, InputTextError
from mhexplain.explorer import explorer_table, filter_table
from mhexplain.plots import colour, confusion_heatmap, pr_scatter
from mhexplain.registry import load_classifier


@pytest.fixture(scope="module")
def results(three_models_dir):
    return [load_results(three_models_dir / n, verify_artifact(three_models_dir / n)) for n in ("nb", "lr", "bert")]


def test_summary_and_per_class_tables(results):
    t = summary_table(results)
    assert t["model"].tolist() == ["nb", "lr", "bert"]
    assert t["macro F1"].tolist() == [r.metrics["macro_f1"] for r in results]
    pc = per_class_table(results)
    assert pc.shape == (5, 3) and list(pc.index)[3] == "Personality disorder"


def test_pr_points_and_misclassifications_come_from_artifacts(results):
    pts = pr_points(results)
    assert len(pts) == 15
    lr = results[1]
    row = pts[(pts["model"] == "lr") & (pts["class"] == "Bipolar")].iloc[0]
    assert row["precision"] == lr.metrics["per_class"]["bipolar"]["precision"]
    mis = misclassified_per_class(results)
    cm = np.asarray(lr.metrics["confusion_matrix"])
    assert mis[mis["model"] == "lr"]["misclassified"].sum() == cm.sum() - np.trace(cm)
    norm = confusion(lr, normalise=True)
    np.testing.assert_allclose(norm.sum(1)[cm.sum(1) > 0], 1.0)


def test_mcnemar_known_values():
    y = np.zeros(40, dtype=int)
    a = np.zeros(40, dtype=int)
    b = np.zeros(40, dtype=int)
    b[:10] = 1  # b wrong on 10 posts a gets right; a never wrong where b is right
    t = mcnemar(y, a, b)
    assert (t["a_right_b_wrong"], t["a_wrong_b_right"]) == (10, 0)
    assert t["exact"] and t["p_value"] == pytest.approx(2 * 0.5 ** 10)
    b2 = np.zeros(100, dtype=int)
    b2[:30] = 1
    a2 = np.zeros(100, dtype=int)
    a2[30:40] = 1
    t2 = mcnemar(np.zeros(100, dtype=int), a2, b2)
    assert not t2["exact"] and t2["statistic"] == pytest.approx((abs(30 - 10) - 1) ** 2 / 40)
    assert mcnemar(y, a, a)["p_value"] == 1.0


def test_pairwise_tests_cover_every_pair(results):
    pt = pairwise_tests(results)
    assert len(pt) == 3 and set(pt["model A"]) == {"nb", "lr"}
    assert (pt["posts"] == len(results[0].predictions)).all()


def test_explorer_flags_and_filters(results):
    table = explorer_table(results)
    assert len(table) == len(aligned(results)) == len(results[0].predictions)
    wrong = filter_table(table, "all models wrong")
    assert (wrong["models right"] == 0).all()
    dis = filter_table(table, "models disagree")
    preds = dis[[c for c in dis.columns if c.endswith(" prediction")]]
    assert (preds.nunique(axis=1) > 1).all()
    one = filter_table(table, "exactly one model right")
    assert (one["models right"] == 1).all()
    assert len(filter_table(table, "all posts", true_class="Bipolar")) == (table["true class"] == "Bipolar").sum()
    word = table["text"].iloc[0].split()[0]
    hits = filter_table(table, search=word.upper())
    assert len(hits) >= 1 and hits["text"].str.lower().str.contains(word.lower(), regex=False).all()
    with pytest.raises(ValueError):
        filter_table(table, "nonsense")


def test_compare_post_and_empty_text(three_models_dir):
    models = {n: load_classifier(three_models_dir / n) for n in ("nb", "lr", "bert")}
    text = "I feel so anxious and panicky, my heart is racing"
    comp = compare_post(models, text)
    assert set(comp.proba) == {"nb", "lr", "bert"}
    assert all(np.isclose(p.sum(), 1.0) for p in comp.proba.values())
    np.testing.assert_allclose(comp.proba["lr"], models["lr"].predict_proba([text])[0])
    assert comp.agree == (comp.predictions["nb"] == comp.predictions["lr"] == comp.predictions["bert"])
    with pytest.raises(InputTextError):
        compare_post(models, "  ")


def test_batch_scoring_with_targets(three_models_dir):
    models = {n: load_classifier(three_models_dir / n) for n in ("nb", "lr")}
    raw = b"title,text,target\nExams,so much pressure at work and exams,0\nMood,manic episode again lithium,2\n"
    df = parse_upload(raw, "posts.csv").frame
    seen = []
    scored = score(df, models, progress=seen.append)
    assert seen[-1] == pytest.approx(1.0)
    assert {"nb prediction", "lr confidence", "lr p(bipolar)"} <= set(scored.columns)
    m = file_metrics(df, scored, ["nb", "lr"])
    assert set(m) == {"nb", "lr"} and np.asarray(m["lr"]["confusion_matrix"]).sum() == 2


@pytest.mark.parametrize("raw, needle", [
    (b"\x00\x01\x02binary", "binary"),
    (b"body,label\nx,1\n", r"lacks the column\(s\) text"),
    (b"text,target\nhello,9\n", "not a class id"),
    (b"text\n\n   \n", "no"),
    (b"text\n" + b"post\n" * (MAX_ROWS + 1), "limit"),
])
def test_batch_rejects_bad_uploads(raw, needle):
    with pytest.raises(DataError, match=needle):
        parse_upload(raw, "upload.csv")


def test_batch_upload_without_target_or_title():
    df = parse_upload(b"text\nhello there\n&amp; you\n").frame
    assert df["input"].tolist() == ["hello there", "& you"] and "target" not in df.columns


def test_plots_have_titles_labels_and_consistent_colours(results):
    fig = confusion_heatmap(confusion(results[0]), "nb", False)
    assert fig.layout.title.text.startswith("Naive Bayes") and fig.layout.xaxis.title.text == "predicted class"
    assert list(fig.data[0].x)[3] == "Personality disorder"
    sc = pr_scatter(pr_points(results))
    colours = {t.legendgroup.split(",")[0]: t.marker.color for t in sc.data}
    assert colours["nb"] == colour("nb") and colours["bert"] == colour("bert")
    assert sc.layout.xaxis.title.text == "recall"


def test_word_agreement_between_models(three_models_dir):
    from mhexplain.analysis import word_agreement
    from mhexplain.explain import explain

    models = {n: load_classifier(three_models_dir / n) for n in ("nb", "lr")}
    text = "manic episode and lithium again, my mood swings are back"
    exps = {n: explain(m, text, "lime", target=2, budget=100) for n, m in models.items()}
    table = word_agreement(exps)
    assert table[["model A", "model B"]].values.tolist() == [["nb", "lr"]]
    from scipy.stats import spearmanr

    expected = spearmanr(exps["nb"].target_weights(), exps["lr"].target_weights()).statistic
    assert table["Spearman"].iloc[0] == pytest.approx(expected) and expected > 0.3
    exps["lr"] = explain(models["lr"], text, "lime", target=0, budget=100)
    assert word_agreement(exps) is None  # different target classes are not compared


def test_word_agreement_on_a_two_word_post(three_models_dir):
    """A post shorter than five words used to crash the agreement table (KeyError 'top5_overlap')."""
    from mhexplain.analysis import word_agreement
    from mhexplain.explain import explain

    models = {n: load_classifier(three_models_dir / n) for n in ("nb", "lr")}
    exps = {n: explain(m, "panic attack", "shap", target=4) for n, m in models.items()}
    table = word_agreement(exps)
    assert list(table.columns) == ["model A", "model B", "Spearman", "top-2 overlap"]
    assert table["top-2 overlap"].iloc[0] == 1.0


def test_batch_skips_bad_rows_and_names_their_real_row_numbers():
    from mhexplain.classifier import MAX_POST_CHARS

    rows = [f"title {i},post number {i}" for i in range(80)]
    rows[4] = ","  # spreadsheet row 6: neither title nor text
    rows[68] = "t," + "x" * (MAX_POST_CHARS + 1)  # spreadsheet row 70
    rows.insert(20, "")  # a blank line is no post, but it is a row (22) in a spreadsheet
    raw = ("title,text\n" + "\n".join(rows) + "\n").encode()
    up = parse_upload(raw, "posts.csv")
    assert up.skipped == [(6, "no text"), (71, f"longer than {MAX_POST_CHARS:,} characters")]
    assert len(up.frame) == 78 and up.frame["row"].iloc[:5].tolist() == [2, 3, 4, 5, 7]
    assert up.frame["row"].iloc[18:20].tolist() == [21, 23]
    assert "row 6 (no text), row 71 (longer than" in skipped_text(up.skipped)


def test_batch_size_error_prints_the_real_size():
    raw = b"text\n" + b"a" * (MAX_UPLOAD_BYTES - 4)
    with pytest.raises(DataError, match=r"10\.00 MiB \(10,485,761 bytes\); the limit is 10 MiB"):
        parse_upload(raw, "big.csv")


def test_upload_with_a_million_columns_is_refused_before_parsing():
    header = ",".join(f"c{i}" for i in range(1_100_000)).encode()
    with pytest.raises(DataError, match=r"1,100,000 columns in its header; at most 256"):
        parse_upload(header + b"\n" + b"x\n", "wide.csv")
    with pytest.raises(DataError, match=r"row 2 has 1,000,001 fields but the header has 2"):
        parse_upload(b"text,title\n" + b"," * 1_000_000 + b"\n", "wide-row.csv")


def test_predictions_csv_neutralises_spreadsheet_formulas(three_models_dir):
    models = {"lr": load_classifier(three_models_dir / "lr")}
    evil = ['=HYPERLINK("http://example.invalid","x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "plain post"]
    raw = ("text\n" + "\n".join(f'"{e.replace(chr(34), chr(34) * 2)}"' for e in evil) + "\n").encode()
    scored = score(parse_upload(raw, "evil.csv").frame, models)
    back = pd.read_csv(io.StringIO(predictions_csv(scored)), keep_default_na=False)
    assert back["text"].tolist()[:5] == ["'" + e.strip() if e.startswith("\t") else "'" + e for e in evil[:5]]
    assert back["text"].iloc[5] == "plain post"
    assert all(not str(v).startswith(("=", "+", "-", "@")) for col in back for v in back[col])
    assert back["lr confidence"].between(0, 1).all()  # numbers stay numbers


def test_shipped_streamlit_config_is_safe_by_default():
    import tomllib

    from mhexplain.settings import MAX_UPLOAD_MIB

    from .helpers import ROOT

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "localhost"
    assert cfg["server"]["maxUploadSize"] == MAX_UPLOAD_MIB
    assert cfg["client"]["showErrorDetails"] == "none"


def test_escaping_helpers():
    from mhexplain.textsafe import escape_markdown, neutralise_formula, printable

    md = escape_markdown("![x](https://e.invalid/a.png) <b>hi</b> :red[y]\nnext")
    assert "![" not in md and "<b>" not in md and ":red[" not in md and "\n" not in md
    assert printable("a\x1b[31mb\x07c\u202ed\n") == "a\\x1b[31mb\\x07c\\u202ed\n"
    assert [neutralise_formula(v) for v in ("=1", "+1", "-1", "@x", "ok", 3)] == ["'=1", "'+1", "'-1", "'@x", "ok", 3]


def test_server_settings_come_from_the_environment(monkeypatch, tmp_path):
    import os

    from mhexplain.settings import ServerSettings

    monkeypatch.setenv("MHX_MODELS_DIR", os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b"),
                                                          str(tmp_path / "a")]))
    monkeypatch.delenv("MHX_ALLOW_TRAINING", raising=False)
    s = ServerSettings.from_env()
    assert s.models_dirs == (tmp_path / "a", tmp_path / "b") and not s.allow_training
    monkeypatch.setenv("MHX_ALLOW_TRAINING", "yes")
    monkeypatch.delenv("MHX_MODELS_DIR")
    s = ServerSettings.from_env()
    assert s.allow_training and [str(d) for d in s.models_dirs] == ["models"]
