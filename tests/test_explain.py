import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mhexplain.artifacts.registry import load_classifier
from mhexplain.classifiers.linear import decision_scores, lemmas_with_sources
from mhexplain.cli.train import main as train_cli
from mhexplain.core.classifier import fingerprint, visible_units
from mhexplain.core.errors import ConfigError, InputTextError
from mhexplain.explain import Explanation, ExplanationCache, Units, engine, explain, faithfulness, rank_agreement
from mhexplain.explain.__main__ import main as explain_cli
from mhexplain.explain.units import UnitTokenizer
from mhexplain.preprocess import preprocess_text
from mhexplain.trust.shortcuts import CONDITION_WORDS, MaskedInput, WordMask

from .helpers import CLASS_WORDS, ROOT

LABELS = ("stress", "depression", "bipolar", "personality disorder", "anxiety")


class KeywordClassifier:
    """A toy model with a known answer: P(class 1) = 0.1 + 0.2 * (number of 'sad' among a, b, c...)."""

    name = "toy"
    labels = ("other", "sad")
    batch_size = 7

    def __init__(self):
        self.calls = []

    def predict_proba(self, texts):
        self.calls.append(len(texts))
        p = np.array([min(0.9, 0.1 + 0.2 * Units.of(t).words.count("sad")) for t in texts])
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def lr(trained_dir):
    return load_classifier(trained_dir / "lr")


@pytest.fixture(scope="module")
def nb(trained_dir):
    return load_classifier(trained_dir / "nb")


def test_units_spans_reproduce_the_original_substrings():
    text = "Can't sleep... again!! 😭😭 my heart-rate, my heart-rate &amp; <b>"
    u = Units.of(text)
    assert u.words == ["Can't", "sleep", "...", "again", "!!", "😭😭", "my", "heart-rate", ",", "my",
                       "heart-rate", "&", "amp", ";", "<", "b", ">"]
    assert all(text[a:b] == w for (a, b), w in zip(u.spans, u.words))
    assert u.keep([True] * len(u)) == text
    assert u.keep([i != 1 for i in range(len(u))]) == "Can't ... again!! 😭😭 my heart-rate, my heart-rate &amp; <b>"
    tok = UnitTokenizer()(text)
    assert [text[a:b] for a, b in tok["offset_mapping"]] == u.words


def test_faithfulness_equals_hand_computed_values():
    toy = KeywordClassifier()
    units = Units.of("sad a sad b c d e f g h i j k l m n o p q sad")  # 20 units, 3 'sad'
    weights = np.array([1.0 if w == "sad" else 0.0 for w in units.words])
    weights[1] = 0.5  # 'a' ranks 4th
    f = faithfulness(units, weights, 1, toy.predict_proba)
    # k = ceil(5%, 10%, 20%, 50% of 20) = 1, 2, 4, 10 top units; the first ones are the three 'sad'
    assert [t["k"] for t in f["per_threshold"]] == [1, 2, 4, 10]
    p_full = 0.7
    comp = [p_full - 0.5, p_full - 0.3, p_full - 0.1, p_full - 0.1]
    suff = [p_full - 0.3, p_full - 0.5, p_full - 0.7, p_full - 0.7]
    assert f["comprehensiveness"] == pytest.approx(np.mean(comp))
    assert f["sufficiency"] == pytest.approx(np.mean(suff))


def test_rank_agreement():
    a = np.array([3.0, 2.0, 1.0, 0.0])
    assert rank_agreement(a, a, k=2) == {"spearman": pytest.approx(1.0), "k": 2, "top_k_overlap": 1.0}
    r = rank_agreement(a, -a, k=2)
    assert r["spearman"] == pytest.approx(-1.0) and r["top_k_overlap"] == 0.0
    assert rank_agreement(a[:2], a[:2])["k"] == 2  # a two-word post compares its top 2, not 5


@pytest.mark.parametrize("method", ["lime", "shap"])
def test_toy_model_attributions_find_the_keyword(method, monkeypatch):
    toy = KeywordClassifier()
    exp = explain(toy, "sad day at work , sad again", method, target=1, budget=200)
    top2 = {exp.units[i] for i in np.argsort(-exp.target_weights())[:2]}
    assert exp.target == 1 and top2 == {"sad"}
    assert exp.n_evals + exp.faithfulness["n_evals"] == sum(toy.calls)
    # whole sets of perturbations per call (the model batches and length-sorts them), capped
    assert max(toy.calls) > toy.batch_size
    monkeypatch.setattr(engine, "EVAL_CHUNK", 16)
    toy.calls.clear()
    explain(toy, "sad day at work , sad again", method, target=1, budget=200, seed=1)
    assert max(toy.calls) <= 16


@pytest.mark.parametrize("context", ["empty", "full", "both"])
def test_shap_contexts_recover_an_additive_model_exactly(context):
    toy = KeywordClassifier()
    text = "sad day at work , sad again"
    # the one-context walks are exact at the floor of 2 x words + 1 evaluations; "both" needs more
    exp = explain(toy, text, "shap", target=1, budget=500 if context == "both" else 10, shap_context=context)
    w = exp.target_weights()
    expected = [0.2 if u == "sad" else 0.0 for u in exp.units]
    np.testing.assert_allclose(w, expected, atol=1e-9)
    np.testing.assert_allclose(exp.weights.sum(0) + exp.base_value, exp.proba, atol=1e-9)  # additive
    assert exp.params == {"shap_context": context}
    if context != "both":  # one pass over the word tree: about two evaluations per word
        assert exp.n_evals <= 2 * len(exp.units) + 2


@pytest.mark.parametrize("features,width", [("types", None), ("positions", None), ("positions", 25.0)])
def test_lime_settings(features, width):
    toy = KeywordClassifier()
    text = "sad day at work , sad again , at work"
    exp = explain(toy, text, "lime", target=1, budget=300, lime_features=features, lime_kernel_width=width)
    w = exp.target_weights()
    sad = [i for i, u in enumerate(exp.units) if u == "sad"]
    assert set(np.argsort(-w)[:2]) == set(sad)
    assert exp.params == {"lime_features": features, "lime_kernel_width": width}
    if features == "types":  # one weight per distinct word, shown on each occurrence
        for word in ("sad", "at", "work", ","):
            ws = {float(w[i]) for i, u in enumerate(exp.units) if u == word}
            assert len(ws) == 1
        # each 'sad' adds 0.2 and the two go together: the fit gives about 0.4 for the word
        assert w[sad[0]] == pytest.approx(0.4, abs=0.05)
    else:
        assert w[sad[0]] != w[sad[1]]  # separate features, separately estimated


def test_lime_settings_are_checked():
    toy = KeywordClassifier()
    with pytest.raises(ConfigError, match="Unknown LIME features"):
        explain(toy, "sad day", "lime", lime_features="chars")
    for bad in (0, -3, "wide"):
        with pytest.raises(ConfigError, match="kernel width must be a positive number"):
            explain(toy, "sad day", "lime", lime_kernel_width=bad)
    cache = ExplanationCache()
    explain(toy, "sad day", "lime", budget=50, lime_kernel_width=25, cache=cache)
    assert explain(toy, "sad day", "lime", budget=50, lime_kernel_width=25.0, cache=cache).cached


def test_shap_context_is_part_of_the_cache_key_and_checked(tmp_path):
    toy = KeywordClassifier()
    cache = ExplanationCache()
    a = explain(toy, "sad day , sad", "shap", cache=cache, shap_context="empty")
    b = explain(toy, "sad day , sad", "shap", cache=cache, shap_context="both")
    assert not a.cached and not b.cached and len(cache) == 2
    assert explain(toy, "sad day , sad", "shap", cache=cache, shap_context="both").cached
    with pytest.raises(ConfigError, match="Unknown SHAP context 'half'"):
        explain(toy, "sad day", "shap", shap_context="half")


@pytest.mark.parametrize("method", ["lime", "shap", "linear"])
def test_bipolar_ranks_high_for_the_bipolar_class(lr, method):
    text = "I feel like my mood is all over the place, manic then low. Is this bipolar? Today was so stressful."
    exp = explain(lr, text, method, target=2, budget=300)
    w = exp.target_weights()
    i = exp.units.index("bipolar")
    assert w[i] > 0
    assert i in np.argsort(-w)[:5]
    assert exp.labels[exp.target] == "bipolar"


def test_linear_contributions_add_up_to_the_model_score(lr, nb):
    text = "Worries, worries: I can't stop feeling anxious and my heart races at work!!"
    for clf in (lr, nb):
        exp = explain(clf, text, "linear")
        np.testing.assert_allclose(exp.weights.sum(0) + exp.base_value, decision_scores(clf.base.pipeline, text),
                                   atol=1e-9)
    assert " ".join(lm for lm, _ in lemmas_with_sources(text)) == preprocess_text(text)
    exp = explain(lr, text, "linear")
    worries = [k for k, u in enumerate(exp.units) if u.lower() == "worries"]
    assert len(worries) == 2 and np.allclose(exp.weights[worries[0]], exp.weights[worries[1]])
    assert np.allclose(exp.weights[exp.units.index("!!")], 0.0)  # punctuation carries no feature


def test_same_seed_same_explanation(lr):
    text = "panic attacks every night and my heart is racing"
    a = explain(lr, text, "lime", budget=200, seed=3)
    b = explain(lr, text, "lime", budget=200, seed=3)
    np.testing.assert_array_equal(a.weights, b.weights)
    c = explain(lr, text, "shap", budget=200, seed=3)
    d = explain(lr, text, "shap", budget=200, seed=3)
    np.testing.assert_array_equal(c.weights, d.weights)


# Two or three of each class's words (the synthetic posts' class words), in one post that LR
# predicts as personality disorder (p 0.64) and as anxiety at p 0.003.
EVERY_CLASS_POST = ("My boss moved the deadline again and I feel hopeless and worthless. Off my lithium, manic for "
                    "days, afraid of rejection, avoidant with friends, and the panic makes me nervous.")


@pytest.mark.parametrize("method", ["lime", "shap", "linear"])
def test_any_class_can_be_asked_for(lr, method):
    """Asked for class k, the explanation is of class k: k's own words weigh most toward it,
    whatever the model predicts, and the weights add up to k's own output."""
    scores = decision_scores(lr.base.pipeline, EVERY_CLASS_POST)
    toward = []
    for k in range(len(LABELS)):
        exp = explain(lr, EVERY_CLASS_POST, method, target=k, budget=300)
        w = exp.target_weights()
        assert exp.target == k and exp.weights.shape == (len(exp.units), len(LABELS))
        words = [u.lower() for u in exp.units]
        own = [w[i] for i, u in enumerate(words) if u in CLASS_WORDS[k]]
        others = [w[i] for i, u in enumerate(words) if any(u in CLASS_WORDS[j] for j in CLASS_WORDS if j != k)]
        assert len(own) >= 2 and len(others) >= 8 and min(own) > max(others), (k, exp.top(5))
        if method == "linear":  # exactly class k's terms of the decision function
            assert w.sum() + exp.base_value[k] == pytest.approx(scores[k], abs=1e-9)
        if method == "shap":  # exactly additive in class k's probability
            assert w.sum() + exp.base_value[k] == pytest.approx(exp.proba[k], abs=1e-9)
        # dropping the words ranked highest toward k lowers the probability of k
        assert exp.faithfulness["comprehensiveness"] > 0
        toward.append(w)
    assert len({tuple(w) for w in toward}) == len(LABELS)


def test_a_repeat_is_served_from_the_cache_and_callers_cannot_change_it(lr, tmp_path, monkeypatch):
    scored = []
    predict = lr.predict_proba
    monkeypatch.setattr(lr, "predict_proba", lambda texts: scored.append(len(texts)) or predict(texts))
    cache = ExplanationCache(directory=tmp_path)
    text = "lonely and afraid of rejection by friends"
    first = explain(lr, text, "shap", budget=150, cache=cache)
    assert not first.cached and sum(scored) == first.n_evals + first.faithfulness["n_evals"]
    as_computed = first.to_dict()
    scored.clear()
    second = explain(lr, text, "shap", budget=150, cache=cache)
    assert second.cached and scored == []  # the model was not asked again
    assert second.to_dict() == {**as_computed, "cached": True}
    # What a caller does to the explanation it got (the first caller's included) reaches no other caller.
    for got in (first, second):
        got.weights[:] = 99.0
        got.spans.pop()
        got.faithfulness.clear()
        got.target = 0
    third = explain(lr, text, "shap", budget=150, cache=cache)
    assert third.cached and scored == [] and third.to_dict() == {**as_computed, "cached": True}
    other = explain(lr, text, "shap", budget=160, cache=cache)
    assert not other.cached and scored
    scored.clear()
    fresh = ExplanationCache(directory=tmp_path)  # from disk
    again = explain(lr, text, "shap", budget=150, cache=fresh)
    assert again.cached and scored == [] and again.to_dict() == {**as_computed, "cached": True}
    again.weights[:] = 99.0
    assert explain(lr, text, "shap", budget=150, cache=fresh).to_dict() == {**as_computed, "cached": True}


def test_json_round_trip_and_escaped_html(lr):
    text = 'I said "<script>alert(1)</script>" & felt manic\'s pull'
    exp = explain(lr, text, "lime", budget=100)
    back = Explanation.from_dict(json.loads(exp.to_json()))
    np.testing.assert_array_equal(back.weights, exp.weights)
    assert back.units == exp.units and back.spans == exp.spans
    html = exp.to_html()
    assert "<script>" not in html and "&lt;" in html and "&gt;" in html
    assert '"<' not in html and "&quot;" in html and "&#x27;" in html


@pytest.mark.parametrize("bad", ["", "   \n\t "])
def test_empty_text_is_a_clear_error(lr, bad):
    with pytest.raises(InputTextError, match="empty"):
        explain(lr, bad, "lime")


def test_non_text_and_bad_arguments(lr):
    with pytest.raises(InputTextError, match="not text|as text"):
        explain(lr, 42, "lime")
    with pytest.raises(ConfigError, match="Unknown method"):
        explain(lr, "hello", "gradcam")
    with pytest.raises(ConfigError, match="Target class 9"):
        explain(lr, "hello there", "lime", target=9)


def test_a_20000_word_post_is_explained_within_budget(lr):
    words = ("stress work deadline tired bipolar manic sad lonely panic heart " * 2000).split()
    assert len(words) == 20000
    exp = explain(lr, " ".join(words), "lime", budget=200, max_units=300)
    assert len(exp.units) == 300
    # the prediction itself and LIME's 200 samples; faithfulness counts its own 8 (4 thresholds x 2)
    assert exp.n_evals == 1 + 200 and exp.faithfulness["n_evals"] == 8
    assert exp.truncated and "300 of 20,000 words" in exp.truncated
    assert exp.original_length > len(exp.text)


def test_cli_prints_top_words_and_writes_files(trained_dir, tmp_path, capsys):
    out_json, out_html = tmp_path / "e.json", tmp_path / "e.html"
    rc = explain_cli(["--models-dir", str(trained_dir), "--model", "nb", "--method", "lime", "--budget", "100",
                      "--json", str(out_json), "--html", str(out_html), "so anxious, panic attack, heart racing"])
    out = capsys.readouterr().out
    assert rc == 0 and "predicted" in out and "panic" in out
    assert json.loads(out_json.read_text())["method"] == "lime"
    assert "mhx-explanation" in out_html.read_text()
    assert explain_cli(["--models-dir", str(tmp_path), "--model", "lr", "hello"]) == 2
    assert "No trained model lr in" in capsys.readouterr().err
    rc = explain_cli(["--models-dir", str(trained_dir), "--model", "lr", "--method", "lime", "--budget", "100",
                      "--lime-features", "positions", "--lime-kernel-width", "25", "--json", str(out_json),
                      "so anxious, panic attack"])
    params = json.loads(out_json.read_text())["params"]
    assert rc == 0 and params == {"lime_features": "positions", "lime_kernel_width": 25.0}
    assert explain_cli(["--models-dir", str(trained_dir), "--model", "lr", "--method", "shap",
                        "--shap-context", "both", "--json", str(out_json), "so anxious"]) == 0
    assert json.loads(out_json.read_text())["params"] == {"shap_context": "both"}


def test_cli_escapes_terminal_control_characters(trained_dir, capsys):
    post = "panic \x1b[2J\x1b]0;owned\x07 attack \u202egnp.exe heart"
    assert explain_cli(["--models-dir", str(trained_dir), "--model", "lr", "--method", "linear", "--top", "20",
                        post]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    # the control sequences are symbols LR does not see, so they are not listed among the words
    listed = [line.split()[-1] for line in out.splitlines() if line.startswith("  ")]
    assert {"panic", "attack", "heart"} <= set(listed) and all(w[0].isalnum() for w in listed)


def test_cli_process_matches_the_in_process_explanation(trained_dir, tmp_path):
    """The CLI runs shap's numba kernels as plain Python (NUMBA_DISABLE_JIT): same numbers as the app's
    compiled ones."""
    post = "so anxious before the exam, panic attack and my heart racing again"
    out = tmp_path / "e.json"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    r = subprocess.run([sys.executable, "-m", "mhexplain.explain", "--models-dir", str(trained_dir), "--model",
                        "lr", "--method", "shap", "--json", str(out), post], capture_output=True, text=True,
                       cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    here = explain(load_classifier(trained_dir / "lr"), post, "shap")
    np.testing.assert_allclose(np.asarray(json.loads(out.read_text())["weights"]), here.weights, atol=1e-12)


# Words NB and LR never see: their preprocessing drops punctuation and stopwords before counting words.
UNSEEN_BY_NB_LR = {",", "...", "!", "?", "I", "my", "My", "is", "Is", "and"}
SEEN_POST = "I feel my heart is racing, and I panic... My anxiety is back! Is it anxiety?"


@pytest.fixture(scope="module")
def masked_dir(fixture_csv, tmp_path_factory):
    """NB and LR trained with the default condition-word mask."""
    out = tmp_path_factory.mktemp("masked")
    assert train_cli(["--data", str(fixture_csv), "--out", str(out), "--models", "nb,lr", "--mask-words", "--jobs", "1",
                 "--cache-dir", str(out / ".cache")]) == 0
    return out


def _assert_unseen_weigh_nothing(exp, unseen: set[str]) -> None:
    idx = [i for i, u in enumerate(exp.units) if u in unseen]
    assert len({exp.units[i] for i in idx}) == len(unseen)  # every one of them is in the post
    assert (exp.weights[idx] == 0.0).all(), {exp.units[i]: exp.weights[i].tolist() for i in idx}
    assert not exp.seen[idx].any()


@pytest.mark.parametrize("model", ["nb", "lr"])
@pytest.mark.parametrize("method", ["lime", "shap", "linear"])
def test_words_nb_and_lr_never_see_weigh_exactly_zero(trained_dir, model, method):
    clf = load_classifier(trained_dir / model)
    exp = explain(clf, SEEN_POST, method, budget=300)
    _assert_unseen_weigh_nothing(exp, UNSEEN_BY_NB_LR)
    seen = {u for u, s in zip(exp.units, exp.seen) if s}
    assert {"feel", "heart", "panic", "anxiety"} <= seen
    assert np.abs(exp.weights[exp.units.index("anxiety")]).max() > 0
    # the JSON says which words the model sees, and the HTML greys the others
    assert json.loads(exp.to_json())["visible"] == exp.seen.tolist()
    html = exp.to_html()
    assert '<span class="mhx-unseen" title="My: not seen by the model" style="color: #999">My</span>' in html
    assert "grey: not seen by the model" in html and 'title="anxiety: ' in html
    assert all(word in seen for word, _ in exp.top(20))  # the top words are words the model sees


@pytest.mark.parametrize("method", ["lime", "shap"])
def test_a_masked_model_gives_its_masked_words_exactly_zero(masked_dir, method):
    post = "I feel my heart is racing, and I panic... Depressed? Anxiety, anxious, bipolar: my worried heart."
    for model in ("nb", "lr"):
        exp = explain(load_classifier(masked_dir / model), post, method, budget=300)
        masked = {"panic", "Depressed", "Anxiety", "anxious", "bipolar"}
        _assert_unseen_weigh_nothing(exp, masked | {",", "...", "?", ":", "I", "my", "is", "and"})
        assert {"feel", "heart", "worried"} <= {u for u, s in zip(exp.units, exp.seen) if s}


def test_masked_words_are_unseen_whatever_the_model_inside():
    """A model that declares nothing (as BERT) sees every word; behind the mask it sees all but the masked ones."""
    toy = KeywordClassifier()
    units = Units.of("sad: anxiety-ridden, Panic sad")
    assert visible_units(toy, units.text, units.spans).all()
    masked = MaskedInput(toy, WordMask(CONDITION_WORDS))
    seen = dict(zip(units.words, visible_units(masked, units.text, units.spans).tolist()))
    # "anxiety-ridden" keeps "-ridden" once "anxiety" is deleted: the model still sees that much
    assert seen == {"sad": True, ":": True, "anxiety-ridden": True, ",": True, "Panic": False}
    exp = explain(masked, units.text, "shap", target=1)
    assert exp.visible == [True, True, True, True, False, True]
    assert exp.weights[4].tolist() == [0.0, 0.0]


def test_masked_linear_contributions_follow_the_deletion(masked_dir):
    """The mask deletes words, so "worried,anxiety,heart" reaches the model as one token "worriedheart"."""
    clf = load_classifier(masked_dir / "lr")
    post = "worried,anxiety,heart racing and nervous"
    exp = explain(clf, post, "linear")
    inner = clf.base
    expected = decision_scores(inner.base.pipeline, inner.mask.delete(post))
    np.testing.assert_allclose(exp.weights.sum(0) + exp.base_value, expected, atol=1e-9)


@pytest.mark.parametrize("method", ["lime", "shap", "linear"])
def test_a_post_of_words_the_model_never_sees_is_all_zero_with_a_note(lr, masked_dir, method):
    for clf, post in ((lr, "I am, and it is... what it was!!"),
                      (load_classifier(masked_dir / "nb"), "Anxiety? Panic, my panic!")):
        exp = explain(clf, post, method, budget=300)
        assert (exp.weights == 0.0).all() and not exp.seen.any()
        assert exp.unseen_note.startswith(f"{clf.name} sees none of these words")
        assert exp.top(5) == [] and exp.faithfulness == {}
        assert exp.n_evals <= 2  # the prediction (and LIME/SHAP's empty post): nothing to perturb
        assert "sees none of these words" in exp.to_html()


def test_cli_says_why_a_post_of_unseen_words_lists_no_words(trained_dir, capsys):
    assert explain_cli(["--models-dir", str(trained_dir), "--model", "lr", "--method", "linear",
                        "I am, is it?"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("lr sees none of these words") and "every weight is 0" in lines[1]
    assert not [line for line in lines if line.startswith("  ")]


def test_shap_spends_evaluations_on_seen_words_only(lr):
    post = ("I, I, I... my, my, my: is it, is it? " * 10) + "panic attack and my heart racing"
    exp = explain(lr, post, "shap")
    n_seen = int(exp.seen.sum())
    assert 2 <= n_seen <= 5 and len(exp.units) > 100
    assert exp.n_evals <= 2 * n_seen + 2  # a walk over the seen words' tree, not the whole post's


def test_faithfulness_ranks_only_the_words_the_model_sees(lr):
    post = "I, I, I... my, my, my: is it? panic attack heart racing"
    exp = explain(lr, post, "lime", budget=200)
    n_seen = int(exp.seen.sum())
    assert n_seen == 4 and len(exp.units) == 19
    # the top 5%, 10%, 20% and 50% of the 4 words LR sees, not of all 19 units
    assert [t["k"] for t in exp.faithfulness["per_threshold"]] == [1, 1, 1, 2]


def test_rank_agreement_among_chosen_units():
    a, b = np.array([3.0, 0.0, 2.0, 0.0, 1.0]), np.array([3.0, 9.0, 2.0, -9.0, 1.0])
    r = rank_agreement(a, b, k=2, among=[True, False, True, False, True])
    assert r == {"spearman": pytest.approx(1.0), "k": 2, "top_k_overlap": 1.0}


def test_an_explanation_cached_before_words_were_left_out_is_not_served(lr, tmp_path):
    """A disk cache written by the previous engine (every unit a feature) must not answer."""
    post = "my heart is racing, panic"
    stale = explain(lr, post, "shap", budget=150)
    stale.weights = np.ones_like(stale.weights)
    stale.visible = None
    old_key = hashlib.sha256(json.dumps([fingerprint(lr), post, "shap", None, 150, 0, 300,
                                         [["shap_context", "empty"]]]).encode()).hexdigest()
    (tmp_path / f"{old_key}.json").write_text(stale.to_json())
    exp = explain(lr, post, "shap", budget=150, cache=ExplanationCache(directory=tmp_path))
    assert not exp.cached and exp.weights[exp.units.index(",")].tolist() == [0.0] * 5


def test_a_unit_glued_to_another_by_punctuation_counts_as_seen(lr):
    """ "heart,qqq" reaches the model as one token "heartqqq": deleting "qqq" would turn it into "heart"."""
    units = Units.of("my heart,qqq racing qqq")
    seen = dict(zip(range(len(units)), visible_units(lr, units.text, units.spans).tolist()))
    assert units.words == ["my", "heart", ",", "qqq", "racing", "qqq"]
    assert seen == {0: False, 1: True, 2: False, 3: True, 4: True, 5: False}
    assert preprocess_text(units.keep([True, True, True, False, True, True])) != preprocess_text(units.text)


def test_top_words_cost_one_pass_over_the_units():
    """top() rebuilt the seen mask and the unit list for every unit it looked at: quadratic in the
    length of the post (seconds for a long one)."""
    built = {"seen": 0, "units": 0}

    class Counted(Explanation):
        @property
        def seen(self):
            built["seen"] += 1
            return super().seen

        @property
        def units(self):
            built["units"] += 1
            return super().units

    n = 2000
    text = " ".join(f"w{i}" for i in range(n))
    spans, pos = [], 0
    for word in text.split(" "):
        spans.append((pos, pos + len(word)))
        pos += len(word) + 1
    weights = np.zeros((n, 5))
    weights[:, 1] = np.arange(n)
    exp = Counted(model="lr", method="shap", text=text, spans=spans, weights=weights, base_value=np.zeros(5),
                  proba=np.full(5, 0.2), labels=list("abcde"), target=1, budget=10, n_evals=10, seconds=0.0,
                  seed=0, original_length=len(text), visible=[i % 2 == 0 for i in range(n)])
    assert exp.top(3) == [("w1998", 1998.0), ("w1996", 1996.0), ("w1994", 1994.0)]
    assert built == {"seen": 1, "units": 1}
