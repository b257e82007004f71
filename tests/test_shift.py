"""Shift: is a post, or a file of posts, unlike the data the models were trained on?"""
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts.folder import read_predictions
from mhexplain.artifacts.registry import load_classifier
from mhexplain.cli import evaluate as evaluate_cli
from mhexplain.cli import score as score_cli
from mhexplain.scoring.shift import SIMILARITY_COLUMN, TYPICALITY_COLUMN, read_back
from mhexplain.trust.shift import MIN_TEST_POSTS, Reference, Sample, matched_reference, two_sample_test

from .conftest import BINARY_LABELS, MANY_LABELS
from .helpers import class_word, labelled_posts, synthetic_posts


def _in_domain(seed: int) -> list[str]:
    """Posts from the generator the models were trained on (another draw of it)."""
    df = synthetic_posts(seed=seed)
    return (df["title"] + " " + df["text"]).tolist()


def _another_source(n: int) -> list[str]:
    """Posts in words the training posts never use (a forum on another subject, in effect)."""
    rng = np.random.default_rng(3)
    return [" ".join(class_word(int(k), int(j)) for k, j in rng.integers(0, 40, (int(rng.integers(10, 30)), 2)))
            for _ in range(n)]


def _reference(trained_dir) -> Reference:
    preds = read_predictions(trained_dir / "lr")
    return Reference.from_texts(preds["text"], preds["pred_label"], "lr")


def _verdict(reference: Reference, posts: list[str], trained_dir) -> dict:
    sample = Sample()
    sample.add(posts, load_classifier(trained_dir / "lr").predict_proba(posts).argmax(1))
    return reference.test(sample, reference.similarity(posts))


def test_held_out_posts_are_not_flagged_and_another_source_is(trained_dir):
    reference = _reference(trained_dir)
    same, other = _verdict(reference, _in_domain(seed=7), trained_dir), _verdict(reference, _another_source(150),
                                                                                   trained_dir)
    assert not same["detected"] and same["auc"] < 0.6 and same["posts"] == same["posts_compared"] == 204
    assert other["detected"] and other["auc"] > 0.9 and other["p_value"] < 0.01
    assert other["share_below_reference_5th_percentile"] > 0.5 > same["share_below_reference_5th_percentile"]
    # per post: in-domain posts spread over the reference's range, the other source at its bottom
    typical = reference.typicality(reference.similarity(_in_domain(seed=8)))
    assert 0.3 < typical.mean() and reference.typicality(reference.similarity(["zorbax quint vel"]))[0] < 0.05


def _labelled_file(tmp_path, texts, name):
    path = tmp_path / name
    rows = [{"body": t, "sub": ["stress", "anxiety"][k % 2]} for k, t in enumerate(texts)]
    path.write_text("body,sub\n" + "".join(f"\"{r['body']}\",{r['sub']}\n" for r in rows))
    return path


def test_evaluate_says_when_a_file_is_unlike_the_training_data(trained_dir, tmp_path, capsys):
    argv = ["--models-dir", str(trained_dir), "--text-col", "body", "--label-col", "sub", "--json"]
    same = _labelled_file(tmp_path, _in_domain(seed=9)[:120], "same.csv")
    assert evaluate_cli.main(argv + [str(tmp_path / "a.json"), "--data", str(same)]) == 0
    assert "No shift detected (a classifier tells its posts" in capsys.readouterr().out
    assert json.loads((tmp_path / "a.json").read_text())["shift"]["detected"] is False
    words = _another_source(120)
    other = _labelled_file(tmp_path, words, "other.csv")
    assert evaluate_cli.main(argv + [str(tmp_path / "b.json"), "--data", str(other)]) == 0
    printed = capsys.readouterr().out
    assert "warning: shift detected" in printed and "may not hold here" in printed
    assert "training data" in printed and "nb predicts" in printed  # the shares, beside the training data's
    shift = json.loads((tmp_path / "b.json").read_text())["shift"]
    assert shift["detected"] and shift["posts"] == len(words) and shift["reference"]["posts"] > 0
    assert np.isfinite(shift["auc"]) and "Mann-Whitney" in shift["method"]


def test_a_reference_without_words_is_said_so():
    with pytest.raises(ValueError):  # evaluate then reports "no word to compare a file with"
        Reference.from_texts(["1 2 3", "4 5 6"], [0, 1], "lr")


def _posts_file(tmp_path, texts, name):
    path = tmp_path / name
    pd.DataFrame({"text": texts}).to_csv(path, index=False)
    return path


def test_score_gives_every_post_its_typicality_and_the_file_its_verdict(trained_dir, tmp_path, capsys):
    # mostly another source: 40 in-domain posts, a row without text, 160 posts of another source
    same, other = _in_domain(seed=9)[:40], _another_source(160)
    mixed = _posts_file(tmp_path, same + [""] + other, "mixed.csv")
    out, summary = tmp_path / "pred.csv", tmp_path / "summary.json"
    argv = ["--models-dir", str(trained_dir), "--data", str(mixed), "--out", str(out), "--json", str(summary)]
    assert score_cli.main(argv) == 0
    table = pd.read_csv(out, keep_default_na=False)
    typical = table[TYPICALITY_COLUMN]
    assert typical[40] == "" and table[SIMILARITY_COLUMN][40] == ""  # the row without text
    typical = pd.to_numeric(typical.replace("", np.nan))
    # each post against the reference: the other source sits at the bottom of the in-domain range
    assert typical[:40].median() > 0.3 and (typical[41:] < 0.05).mean() > 0.8
    report = json.loads(summary.read_text())
    assert report["shift"]["detected"] and report["shift"]["posts"] == 200 and report["rows"] == 201
    assert report["training_share"] and abs(sum(report["training_share"].values()) - 1) < 1e-9
    predicted = table["lr_pred"][table["lr_pred"] != ""].value_counts(normalize=True)
    assert report["prediction_share"]["lr"] == pytest.approx({k: predicted.get(k, 0.0)
                                                              for k in report["prediction_share"]["lr"]})
    printed = capsys.readouterr().out
    assert "warning: shift detected" in printed and "training data" in printed and "lr predicts" in printed
    # in-domain posts alone: no verdict of shift, and no table of shares
    assert score_cli.main(argv[:3] + [str(_posts_file(tmp_path, _in_domain(seed=9)[:100], "same.csv")), "--out",
                                      str(tmp_path / "p2.csv"), "--json", str(tmp_path / "s2.json")]) == 0
    printed = capsys.readouterr().out
    assert "No shift detected" in printed and "lr predicts" not in printed
    assert json.loads((tmp_path / "s2.json").read_text())["shift"]["detected"] is False


def test_a_class_name_a_spreadsheet_would_run_is_read_back_by_name(tmp_path):
    out = tmp_path / "pred.csv"
    out.write_text(f"row,{SIMILARITY_COLUMN},m_pred\n2,0.5,'-1\n3,,\n4,0.2,2\n")
    similarity, predicted = read_back(out, {"m": ("-1", "2")}, True, chunk_size=2)
    assert similarity.tolist() == [0.5, 0.2] and predicted == {"m": Counter({"-1": 1, "2": 1})}
    assert read_back(out, {"m": ("-1", "2")}, False, chunk_size=2)[1] == predicted  # a table without similarities


def test_a_sample_is_uniform_and_the_same_for_the_same_stream():
    a, b = Sample(size=100, seed=3), Sample(size=100, seed=3)
    for start in range(0, 10_000, 700):  # chunks of a file, as they are read
        a.add(range(start, min(start + 700, 10_000)), [0] * len(range(start, min(start + 700, 10_000))))
        b.add(range(start, min(start + 700, 10_000)), [0] * len(range(start, min(start + 700, 10_000))))
    assert a.posts == b.posts and a.seen == 10_000 and len(set(a.posts)) == 100
    assert 3_000 < np.mean(a.posts) < 7_000  # drawn from the whole stream, not its first rows


def test_too_few_posts_are_not_tested_but_still_compared(trained_dir):
    verdict = _verdict(_reference(trained_dir), _another_source(MIN_TEST_POSTS - 1), trained_dir)
    assert not verdict["detected"] and "auc" not in verdict and f"at least {MIN_TEST_POSTS}" in verdict["reason"]
    assert verdict["share_below_reference_5th_percentile"] > 0.5


@pytest.mark.parametrize("folder, labels, title", [("binary_dir", BINARY_LABELS, "headline"),
                                                   ("many_dir", MANY_LABELS, None)])
def test_shift_on_any_label_set(folder, labels, title, request, tmp_path):
    """Another seed of the dataset's own generator is not flagged; posts in words it never uses are,
    and their predicted-class shares are set beside the training data's for the models' own classes."""
    models_dir = request.getfixturevalue(folder)
    same = tmp_path / "same.csv"  # in the training file's columns, which score reads by default
    labelled_posts(labels, per_class=max(4, 120 // len(labels)), seed=5, title_col=title).to_csv(same, index=False)
    other = _posts_file(tmp_path, _another_source(120), "other.csv")
    other_body = tmp_path / "other_body.csv"
    pd.read_csv(other).rename(columns={"text": "body"}).to_csv(other_body, index=False)
    verdicts = {}
    for name, path, columns in (("same", same, []), ("other", other_body, ["--text-col", "body", "--title-col", ""])):
        out = tmp_path / f"{name}.json"
        assert score_cli.main(["--models-dir", str(models_dir), "--data", str(path), *columns, "--out",
                               str(tmp_path / f"{name}-scored.csv"), "--json", str(out)]) == 0
        verdicts[name] = json.loads(out.read_text())
    assert not verdicts["same"]["shift"]["detected"] and verdicts["other"]["shift"]["detected"]
    assert list(verdicts["other"]["training_share"]) == list(labels)
    assert set(verdicts["other"]["prediction_share"]) == {"nb", "lr"}


def test_the_reference_is_drawn_in_the_files_class_shares_even_where_a_class_is_scarce():
    rng = np.random.default_rng(0)
    reference_classes = np.r_[np.zeros(60), np.ones(270), np.full(270, 2)].astype(int)  # 10/45/45%
    wanted = np.r_[np.zeros(60), np.ones(20), np.full(20, 2)].astype(int)  # 60/20/20%
    picked = reference_classes[matched_reference(reference_classes, wanted, rng)]
    assert np.bincount(picked).tolist() == [60, 20, 20]  # the scarce class sets the size
    # a class the reference lacks is left out of both sides
    assert np.bincount(reference_classes[matched_reference(reference_classes, np.r_[wanted, [3, 3]], rng)]).tolist() \
        == [60, 20, 20]


def test_the_p_value_holds_its_level_when_nothing_has_shifted():
    """Two samples of one distribution, 60 times: p < 0.05 about 5% of the time (at most 8 of 60)."""
    rng = np.random.default_rng(1)
    vocab = [class_word(k, j) for k in range(3) for j in range(20)]
    flagged = 0
    for seed in range(60):
        posts = [" ".join(rng.choice(vocab, 12)) for _ in range(240)]
        result = two_sample_test(posts[:160], [0] * 160, posts[160:], [0] * 80, seed=seed)
        flagged += result["p_value"] < 0.05
    assert flagged <= 8
