"""Shift: is a post, or a file of posts, unlike the data the models were trained on?"""
import json

import numpy as np
import pytest

from mhexplain.artifacts.folder import read_predictions
from mhexplain.cli import evaluate as evaluate_cli
from mhexplain.trust.shift import Reference

from .helpers import class_word, synthetic_posts


def _in_domain(seed: int) -> list[str]:
    """Posts from the generator the models were trained on (another draw of it)."""
    df = synthetic_posts(seed=seed)
    return (df["title"] + " " + df["text"]).tolist()


def _another_source(n: int) -> list[str]:
    """Posts in words the training posts never use (a forum on another subject, in effect)."""
    rng = np.random.default_rng(3)
    return [" ".join(class_word(int(k), int(j)) for k, j in rng.integers(0, 40, (int(rng.integers(10, 30)), 2)))
            for _ in range(n)]


def test_held_out_posts_are_not_flagged_and_another_source_is(trained_dir):
    reference = Reference.from_texts(read_predictions(trained_dir / "lr")["text"])
    same = reference.test(reference.similarity(_in_domain(seed=7)))
    other = reference.test(reference.similarity(_another_source(150)))
    assert not same["detected"] and same["auc"] < 0.6
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
    assert "no shift detected (AUC" in capsys.readouterr().out
    assert json.loads((tmp_path / "a.json").read_text())["shift"]["detected"] is False
    words = _another_source(120)
    other = _labelled_file(tmp_path, words, "other.csv")
    assert evaluate_cli.main(argv + [str(tmp_path / "b.json"), "--data", str(other)]) == 0
    printed = capsys.readouterr().out
    assert "warning: shift detected" in printed and "may not hold here" in printed
    shift = json.loads((tmp_path / "b.json").read_text())["shift"]
    assert shift["detected"] and shift["posts"] == len(words) and shift["reference"]["posts"] > 0
    assert np.isfinite(shift["auc"]) and "Mann-Whitney" in shift["method"]


def test_a_reference_without_words_is_said_so():
    with pytest.raises(ValueError):  # evaluate then reports "no word to compare a file with"
        Reference.from_texts(["1 2 3", "4 5 6"])
