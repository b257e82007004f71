import json

import numpy as np
import pytest

from mhexplain.cli.probe import main as probe_cli
from mhexplain.core.errors import ConfigError
from mhexplain.datasets.dataset import KAGGLE_LABELS
from mhexplain.evaluation.probe import probe, probe_texts
from mhexplain.trust.shortcuts import (
    CONDITION_WORDS,
    WordMask,
    default_words,
    delete_random_words,
    parse_words,
    read_word_list,
    top_class_words,
)


def test_default_mask_deletes_the_condition_words_only():
    m = WordMask(CONDITION_WORDS)
    text = "Depressed and ANXIOUS, my anxiety; bipolar mood. Panic attacks, stressed, manic, AvPD, disorders"
    assert m.count(text) == 10
    assert m.delete(text) == " and , my ;  mood.  , , , , "  # case-insensitive, prefixes with *
    assert m.count("impressive distress") == 0  # whole words from their start, not substrings
    # the proxies models trained without the names fell back on: abbreviations, medications, symptoms
    proxies = "My BP meds: Lamictal, lithium and xanax; lexapro for GAD; psychosis, avoidance, an attack"
    assert m.delete(proxies) == "My  meds: ,  and ;  for ; , , an "
    assert m.count("gadget attacker avocado") == 0


def test_default_words_come_from_the_label_names():
    assert default_words(KAGGLE_LABELS) == CONDITION_WORDS  # the curated list for the Kaggle file's five
    assert default_words(("suicidal", "not suicidal", "other")) == ("suicid*",)
    assert default_words(("depression", "eating disorders", "ADHD", "0")) == ("depress*", "eating*", "disorder*",
                                                                              "adhd*")
    assert default_words(("0", "1")) == ()  # numbered classes name nothing
    mask = WordMask.for_labels(("suicidal", "no risk"), extra=("alone",))
    assert mask.words == ("suicid*", "risk*", "alone")
    assert mask.delete("Suicide, so alone; suicidal thoughts") == ", so ;  thoughts"


def test_word_list_files(tmp_path):
    good = tmp_path / "w.txt"
    good.write_text("# mine\nsad*\nlonely\n")
    assert read_word_list(good) == ("sad*", "lonely")
    assert WordMask.from_spec(str(good), KAGGLE_LABELS).delete("sadness, so lonely") == ", so "
    bad = tmp_path / "bad.txt"
    bad.write_text("ok\n(.*)\n")
    with pytest.raises(ConfigError, match="one word per line"):
        read_word_list(bad)
    with pytest.raises(ConfigError, match="Cannot read"):
        read_word_list(tmp_path / "absent.txt")


@pytest.mark.parametrize("case, message", [
    ("a device", "not a regular file"),
    ("200,000 words", "larger than 64 KiB"),
    ("10,000 short words", "has 10,000 words; at most 500"),
    ("a 5 MB word", "larger than 64 KiB"),
    ("a 100-letter word", "a word of 100 characters; at most 40"),
])
def test_word_lists_that_are_no_word_lists_are_refused_at_once(case, message, tmp_path):
    import time

    path = tmp_path / "words.txt"
    if case == "a device":
        path = "/dev/zero"  # read whole, it would never end
    elif case == "200,000 words":
        path.write_text("sad\n" * 200_000)
    elif case == "10,000 short words":
        path.write_text("a\n" * 10_000)
    elif case == "a 5 MB word":
        path.write_text("a" * 5_000_000)
    else:
        path.write_text("sad*\n" + "a" * 100 + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=message):
        read_word_list(path)
    assert time.perf_counter() - t0 < 5


def test_probe_cli_refuses_a_device_as_its_word_list(trained_dir, capsys):
    assert probe_cli(["--models-dir", str(trained_dir), "--words", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The word list /dev/zero is not a regular file") and err.count("\n") == 1


def test_random_control_deletes_as_many_other_words_reproducibly():
    m = WordMask(CONDITION_WORDS)
    text = "my anxiety was bad today and my panic came back at work"
    a = delete_random_words(text, 2, m, np.random.default_rng(3))
    b = delete_random_words(text, 2, m, np.random.default_rng(3))
    assert a == b and len(a.split()) == len(text.split()) - 2 and "anxiety" in a and "panic" in a


class Keyword:
    """Class 4 (anxiety) when the post names anxiety or panic, else class 1."""
    name, labels, batch_size = "kw", ("stress", "depression", "bipolar", "personality disorder", "anxiety"), 32

    def predict_proba(self, texts):
        hit = np.array([("anxi" in t.lower() or "panic" in t.lower()) for t in texts])
        return np.where(hit[:, None], np.eye(5)[4], np.eye(5)[1])


def test_probe_finds_a_keyword_model_and_the_control_does_not():
    texts = [f"my anxiety and panic at work again, day {i}" for i in range(10)] + \
            [f"so sad and empty today, day {i}" for i in range(10)]
    y = np.array([4] * 10 + [1] * 10)
    r = probe(Keyword(), texts, y, seed=0, variants=probe_texts(texts, WordMask(CONDITION_WORDS), 0))
    assert r["variants"]["as written"]["macro_f1"] == pytest.approx(0.4)  # 2 of 5 classes, both perfect
    assert r["variants"]["condition words deleted"]["recall"]["anxiety"] == 0.0
    assert r["variants"]["random words deleted"]["recall"]["anxiety"] == 1.0
    # all posts now "depression": its F1 is 2/3, anxiety 0, so macro-F1 over 5 classes is (2/3) / 5
    assert r["macro_f1_drop"] == pytest.approx(0.4 - (2 / 3) / 5) and r["control_drop"] == 0.0
    assert r["posts_with_condition_word"] == 10
    assert r["variants"]["condition words deleted"]["prediction_share"]["depression"] == 1.0


def test_probe_cli(trained_dir, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert probe_cli(["--models-dir", str(trained_dir), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [r["model"] for r in res["models"]] == ["nb", "lr"] and res["failed"] == {}
    assert "hold a word that names a class" in capsys.readouterr().out
    assert probe_cli(["--models-dir", str(trained_dir), "--words", str(tmp_path / "none.txt")]) == 2
    assert capsys.readouterr().err.startswith("error: Cannot read the word list")


def test_masked_training_masks_at_inference_too(fixture_csv, tmp_path):
    from mhexplain.artifacts.registry import load_classifier
    from mhexplain.cli.train import main
    from mhexplain.trust.calibration import Calibrated
    from mhexplain.trust.shortcuts import MaskedInput

    out = tmp_path / "m"
    assert main(["--data", str(fixture_csv), "--out", str(out), "--models", "lr", "--mask-words", "--jobs", "1",
                 "--cache-dir", str(tmp_path / "c")]) == 0
    man = json.loads((out / "lr" / "manifest.json").read_text())
    assert man["masking"]["source"] == "default" and "masking.json" in man["files"]
    clf = load_classifier(out / "lr")
    assert isinstance(clf, Calibrated) and isinstance(clf.base, MaskedInput)
    p = clf.predict_proba(["anxiety panic worried heart", "worried heart"])
    assert np.allclose(p[0], p[1])  # the condition words never reach the model
    from mhexplain.explain import explain

    exp = explain(clf, "anxiety panic worried heart", "linear")
    assert np.allclose(exp.weights[:2], 0.0)  # and get no attribution


def test_top_class_words_are_the_words_a_model_assigns_to_each_class():
    rng = np.random.default_rng(0)
    filler = ["today", "really", "thing", "time", "week", "friend", "home", "night"]
    texts, predicted = [], []
    for k, words in enumerate((["lithium", "mood"], ["exam", "deadline"])):
        for _ in range(40):
            texts.append(" ".join(list(rng.choice(filler, 8)) + list(rng.choice(words, 2))))
            predicted.append(k)
    found = top_class_words(texts, predicted, ("bipolar", "stress"), k=2)
    assert {w for w, _ in found["bipolar"]} == {"lithium", "mood"}
    assert {w for w, _ in found["stress"]} == {"exam", "deadline"}
    assert all(z > 0 for words in found.values() for _, z in words)
    assert top_class_words(["a b", "c d"], [0, 1], ("x", "y")) == {"x": [], "y": []}  # no word in 5 posts


@pytest.mark.parametrize("typed, says", [("", "at least one"), ("<b>x</b>", "1 of the words is not a word"),
                                         ("a" * 41, "At most"), ("x " * 501, None)])
def test_typed_words_follow_a_word_lists_rules(typed, says):
    if says is None:
        assert parse_words(typed) == ("x",)  # repeated words are one word
        return
    with pytest.raises(ConfigError, match=says):
        parse_words(typed)
