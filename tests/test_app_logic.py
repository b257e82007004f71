import re

import numpy as np
import pytest

from mhexplain.artifacts.folder import verify_artifact
from mhexplain.artifacts.registry import load_classifier
from mhexplain.core.errors import InputTextError
from mhexplain.core.labels import display_names
from mhexplain.datasets.dataset import KAGGLE_LABELS
from mhexplain.evaluation.compare import (
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
from mhexplain.evaluation.explorer import explorer_table, filter_table
from mhexplain.evaluation.post import compare_post
from webapp.plots import (
    CLASS_PALETTE,
    DARK_CLASS_COLOURS,
    class_colours,
    confusion_heatmap,
    pr_scatter,
)


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


def test_pairwise_tests_cover_every_pair(results_from_labels):
    """Three models on 50 posts, 10 of each class, each wrong on posts chosen so that every pair's
    McNemar counts and p-value are known: nb is wrong on posts 0-9, lr on 0-8 and 10-15, bert on 20-39."""
    y = np.arange(50) % 5
    wrong = {"nb": range(10), "lr": [*range(9), *range(10, 16)], "bert": range(20, 40)}
    models = []
    for name, posts in wrong.items():
        pred = y.copy()
        pred[list(posts)] = (y[list(posts)] + 1) % 5
        models.append(results_from_labels(name, y, pred))
    pt = pairwise_tests(models).set_index(["model A", "model B"])
    assert pt.index.tolist() == [("nb", "lr"), ("nb", "bert"), ("lr", "bert")]  # each pair once, in order
    assert (pt["posts"] == 50).all()
    counts = pt[["A right, B wrong", "A wrong, B right"]].to_numpy().tolist()
    assert counts == [[6, 1], [20, 10], [20, 15]]
    # 7 discordant posts: exact binomial, 2 * (1 + 7) / 2**7; 30 and 35: chi-squared with continuity
    # correction, (20 - 10 - 1)**2 / 30 = 2.7 and (20 - 15 - 1)**2 / 35 = 0.457, on one degree of freedom
    assert pt["McNemar p"].tolist() == ["0.125", "0.100", "0.499"]
    # nb gets 8 of each class's 10 posts right and puts 2 others in it: F1 0.8 for every class; bert 6 and 4: 0.6
    f1_diff = pt["macro-F1 A − B"]
    assert f1_diff["nb", "bert"] == pytest.approx(0.2)
    assert f1_diff["lr", "bert"] == pytest.approx(f1_diff["nb", "bert"] - f1_diff["nb", "lr"])
    for diff, ci in zip(f1_diff, pt["A − B 95% CI (paired bootstrap)"]):
        lo, hi = (float(x) for x in ci.split(" to "))
        assert lo <= diff <= hi


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


def test_plots_have_titles_labels_and_consistent_colours(results):
    labels = results[0].labels
    fig = confusion_heatmap(confusion(results[0]), "nb", False, labels)
    assert fig.layout.title.text.startswith("Naive Bayes") and fig.layout.xaxis.title.text == "predicted class"
    assert list(fig.data[0].x)[3] == "Personality disorder"
    sc = pr_scatter(pr_points(results))
    assert sc.layout.xaxis.title.text == "recall"
    # colour: the class, as on every page; shape: the model, one each, the same in every class
    classes = [t for t in sc.data if t.legendgroup != "models"]
    colours = class_colours(display_names(labels))
    assert [t.name for t in classes] == display_names(labels)
    assert [t.marker.color for t in classes] == [colours[t.name] for t in classes]
    shapes = {t.name: t.marker.symbol for t in sc.data if t.legendgroup == "models"}
    assert list(shapes) == ["Naive Bayes", "Logistic Regression", "BERT"] and len(set(shapes.values())) == 3
    assert all(list(t.marker.symbol) == list(shapes.values()) for t in classes)


def test_class_colours_are_stable_per_name_and_distinct_within_a_label_set():
    # pinned: a class keeps its colour from one process (and release) to the next
    assert class_colours(["Anxiety", "Stress"]) == {"Anxiety": "#00A08B", "Stress": "#862A16"}
    twenty = [f"topic {k}" for k in range(20)]
    colours = class_colours(twenty)
    assert len(set(colours.values())) == 20 and class_colours(twenty[::-1]) == colours
    assert set(colours.values()) <= set(DARK_CLASS_COLOURS)  # light hues only past 24 classes
    # a name keeps its colour in another label set unless a name sorted before it took that colour
    for name in ("Stress", "Anxiety"):
        assert class_colours([name, "No risk", "At risk"])[name] == class_colours([name])[name]
    assert len(set(class_colours([f"c{k}" for k in range(len(CLASS_PALETTE))]).values())) == len(CLASS_PALETTE)
    assert set(class_colours([f"c{k}" for k in range(100)]).values()) == set(CLASS_PALETTE)


def test_plots_scale_from_two_to_many_classes():
    binary = confusion_heatmap(np.array([[5, 1], [2, 7]]), "lr", False, ("no risk", "at risk"))
    assert list(binary.data[0].x) == ["No risk", "At risk"] and binary.data[0].texttemplate == "%{text}"
    labels = tuple(f"topic {k}" for k in range(20))
    many = confusion_heatmap(np.eye(20) * 3, "lr", True, labels)
    assert len(many.data[0].x) == 20 and many.data[0].texttemplate == "%{text}"
    assert many.layout.height > binary.layout.height  # rows a reader can tell apart
    wide = confusion_heatmap(np.eye(40), "lr", False, tuple(f"t{k}" for k in range(40)))
    assert wide.data[0].texttemplate is None  # 1,600 numbers in cells are noise: hover only


def test_word_agreement_between_models(three_models_dir):
    from mhexplain.evaluation.post import word_agreement
    from mhexplain.explain import explain

    models = {n: load_classifier(three_models_dir / n) for n in ("nb", "lr")}
    text = "manic episode and lithium again, my mood swings are back"
    exps = {n: explain(m, text, "lime", target=2, budget=100) for n, m in models.items()}
    table = word_agreement(exps)
    assert table[["model A", "model B"]].values.tolist() == [["nb", "lr"]]
    from scipy.stats import spearmanr

    both = exps["nb"].seen & exps["lr"].seen
    assert 0 < both.sum() < len(both)  # "my", "and", "are", "again," are seen by neither
    expected = spearmanr(exps["nb"].target_weights()[both], exps["lr"].target_weights()[both]).statistic
    assert table["Spearman"].iloc[0] == pytest.approx(expected) and expected > 0.3
    exps["lr"] = explain(models["lr"], text, "lime", target=0, budget=100)
    assert word_agreement(exps) is None  # different target classes are not compared


def test_word_agreement_on_a_two_word_post(three_models_dir):
    """A post shorter than five words used to crash the agreement table (KeyError 'top5_overlap')."""
    from mhexplain.evaluation.post import word_agreement
    from mhexplain.explain import explain

    models = {n: load_classifier(three_models_dir / n) for n in ("nb", "lr")}
    exps = {n: explain(m, "panic attack", "shap", target=4) for n, m in models.items()}
    table = word_agreement(exps)
    assert list(table.columns) == ["model A", "model B", "Spearman", "k", "top-k overlap"]
    assert table[["k", "top-k overlap"]].values.tolist() == [[2, 1.0]]


def test_word_agreement_pairs_sharing_different_numbers_of_words_fill_one_column():
    """Pairs ranked over different numbers of words had a column each ("top-5 overlap", "top-3
    overlap"), every row blank in the others'."""
    from mhexplain.evaluation.post import word_agreement
    from mhexplain.explain import Explanation

    text = "one two three four five six seven eight"
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    rng = np.random.default_rng(0)

    def explanation(model: str, visible: list[bool]) -> Explanation:
        weights = rng.normal(size=(len(spans), 5)) * np.asarray(visible)[:, None]
        return Explanation(model=model, method="shap", text=text, spans=spans, weights=weights,
                           base_value=np.zeros(5), proba=np.full(5, 0.2), labels=["a", "b", "c", "d", "e"],
                           target=1, budget=100, n_evals=100, seconds=0.1, seed=0, original_length=len(text),
                           visible=visible)

    table = word_agreement({"nb": explanation("nb", [True] * 8), "lr": explanation("lr", [True] * 8),
                            "bert": explanation("bert", [True, True, True] + [False] * 5)})
    assert list(table.columns) == ["model A", "model B", "Spearman", "k", "top-k overlap"]
    assert table["k"].tolist() == [5, 3, 3]
    assert table["top-k overlap"].notna().all()


def test_shipped_streamlit_config_is_safe_by_default():
    import tomllib

    from mhexplain.settings import MAX_UPLOAD_MB

    from .helpers import ROOT

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "localhost"
    assert cfg["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert cfg["client"]["showErrorDetails"] == "none"


def test_escaping_helpers():
    from mhexplain.core.textsafe import escape_markdown, neutralise_formula, printable

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


def _comparison(classes: dict[str, int], uncertain: tuple = ()):
    from mhexplain.evaluation.post import Comparison

    proba = {n: np.eye(5)[c] * 0.6 + 0.08 for n, c in classes.items()}  # confidence 0.68
    return Comparison(proba, {n: 0.9 if n in uncertain else 0.5 for n in classes}, KAGGLE_LABELS)


@pytest.mark.parametrize("classes, uncertain, good, line", [
    ({"nb": 4, "lr": 4, "bert": 4}, (), True, "All models agree: Anxiety."),
    ({"nb": 4, "lr": 4, "bert": 4}, ("bert",), False, "Naive Bayes and Logistic Regression agree (Anxiety); "
                                                       "BERT abstains (uncertain)."),
    ({"nb": 4, "lr": 4, "bert": 4}, ("nb", "bert"), False, "Only Logistic Regression answers (Anxiety); "
                                                           "Naive Bayes and BERT abstain (uncertain)."),
    ({"nb": 4, "lr": 0}, ("nb", "lr"), False, "No model answers: Naive Bayes and Logistic Regression are "
                                              "uncertain."),
    ({"nb": 4, "lr": 0, "bert": 2}, ("bert",), False, "The models disagree: Naive Bayes Anxiety, Logistic "
                                                      "Regression Stress; BERT abstains (uncertain)."),
    ({"nb": 4, "lr": 0}, (), False, "The models disagree: Naive Bayes Anxiety, Logistic Regression Stress."),
])
def test_agreement_line_says_who_abstains(classes, uncertain, good, line):
    assert _comparison(classes, uncertain).verdict() == (good, line)


@pytest.mark.parametrize("confidence, threshold, numbers", [
    (0.7196, 0.72, ("0.720", "0.720")),  # what 3 decimals alone would print
    (0.60, 0.72, None),
    (0.719996, 0.72, None),
    (0.72 - 1e-12, 0.72, None),
])
def test_below_threshold_never_reads_as_equal(confidence, threshold, numbers):
    import re

    from mhexplain.evaluation.post import below_threshold

    text = below_threshold(confidence, threshold)
    found = re.findall(r"\d\.\d+", text)
    assert "below its threshold" in text
    if len(found) == 2:
        assert float(found[0]) < float(found[1]) and found != list(numbers or ())
    else:
        assert text == "confidence just below its threshold 0.720"


@pytest.mark.parametrize("text", ["see www.example.invalid today", "WWW.EXAMPLE.INVALID",
                                  "https://example.invalid/a?b=1", "mail someone@example.invalid",
                                  "mailto:x@y.invalid", "http://a.invalid and www.b.invalid"])
def test_escaped_text_holds_no_autolink(text):
    """GitHub-style autolinks are found after backslash escapes are undone: what markdown reads
    (escapes undone) must still hold no www., scheme:// or address@domain, yet read as written."""
    import re

    from mhexplain.core.textsafe import WORD_JOINER, escape_markdown

    read = re.sub(r"\\(.)", r"\1", escape_markdown(text))
    assert not re.search(r"(?i)www\.|[a-z]://|[\w.+-]@\w", read), read
    assert read.replace(WORD_JOINER, "") == text


def _only_posts(r, keep):
    from mhexplain.evaluation.compare import ModelResults

    return ModelResults(r.name, r.metrics, r.predictions[r.predictions["post_id"].isin(keep)].reset_index(drop=True),
                        r.manifest)


def test_models_tested_on_different_posts_are_compared_on_the_shared_ones(results):
    from mhexplain.evaluation.compare import shared_posts_note

    assert shared_posts_note(results) is None
    ids = results[0].predictions["post_id"]
    few = ids.iloc[::4].tolist()  # bert was tested on a quarter of the posts (a --limit run)
    mixed = results[:2] + [_only_posts(results[2], few)]
    note = shared_posts_note(mixed)
    assert f"Naive Bayes {len(ids):,}, Logistic Regression {len(ids):,}, BERT {len(few):,}" in note
    assert f"{len(few):,} test posts are shared" in note
    mis = misclassified_per_class(mixed)
    assert (mis.groupby("model")["posts"].sum() == len(few)).all()
    some = mis[mis["posts"] > 0]
    assert (some["share misclassified"] == some["misclassified"] / some["posts"]).all()
    assert (pairwise_tests(mixed)["posts"] == len(few)).all()
    assert len(explorer_table(mixed)) == len(few)


def test_posts_with_one_id_but_another_text_are_not_shared(results):
    other = results[1].predictions.copy()
    other.loc[:9, "text"] = "another post under the same id"
    from mhexplain.evaluation.compare import ModelResults

    mixed = [results[0], ModelResults("lr", results[1].metrics, other, results[1].manifest)]
    assert len(aligned(mixed)) == len(other) - 10


@pytest.mark.parametrize("p, shown", [(0.0, "< 0.001"), (0.00049, "< 0.001"), (0.001, "0.001"),
                                      (0.04567, "0.046"), (1.0, "1.000"), (float("nan"), "n/a")])
def test_p_values_read_as_three_decimals_or_below(p, shown):
    from mhexplain.evaluation.compare import format_p

    assert format_p(p) == shown


@pytest.mark.parametrize("text", ["x :material/warning: y.csv", ":smile: label", "a :red[alert] b", ":Material/home:"])
def test_escaped_text_holds_no_streamlit_directive(text):
    """Icons, emoji and colours survive backslash escapes in Streamlit's markdown: the colon is
    kept from touching the directive's name."""
    import re

    from mhexplain.core.textsafe import WORD_JOINER, escape_markdown

    out = escape_markdown(text)
    assert not re.search(r":[A-Za-z]", out), out
    assert out.replace(WORD_JOINER, "").replace("\\", "") == text
