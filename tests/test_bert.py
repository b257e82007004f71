import json
import logging
import random
import shutil

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts.registry import load_classifier
from mhexplain.classifiers import bert as bert_mod
from mhexplain.classifiers.bert import (
    BERT_CONFIG_FILE,
    BertClassifier,
    InferenceConfig,
    aggregate,
    bounded_texts,
    encode_chunks,
    resolve_precision,
    softmax,
    tokens_scored,
    window_logits,
)
from mhexplain.cli.train import main
from mhexplain.core.errors import ArtifactError, ConfigError
from mhexplain.core.hashing import sha256_file
from mhexplain.training.bert import LOG_SECONDS, load_encoder, log_due, precision_words, processes, training_precision

from .bert_fixtures import tiny_classifier
from .helpers import CLASS_WORDS, FILLER, rescore


@pytest.fixture(scope="module")
def bert_dir(three_models_dir):
    return three_models_dir


def test_training_writes_a_complete_artifact(bert_dir):
    d = bert_dir / "bert"
    names = {p.name for p in d.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "mhx_bert.json", "metrics.json",
            "predictions.csv", "manifest.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    m = json.loads((d / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "macro_f1_ci", "protocol", "train_test_overlap", "long_text_comparison"):
        assert key in m
    assert set(m["long_text_comparison"]) == {"chunk", "truncate"}
    assert len(m["history"]) == 2 and m["history"][-1]["steps"] == 22
    man = json.loads((d / "manifest.json").read_text())
    assert man["kind"] == "bert" and man["params"]["encoder"].endswith("tiny-bert0")
    assert man["params"]["steps"] == 22


def test_same_test_posts_as_classical_models(bert_dir):
    a = pd.read_csv(bert_dir / "bert" / "predictions.csv")
    b = pd.read_csv(bert_dir / "nb" / "predictions.csv")
    assert a["post_id"].tolist() == b["post_id"].tolist()
    ma = json.loads((bert_dir / "bert" / "manifest.json").read_text())["split"]
    mb = json.loads((bert_dir / "nb" / "manifest.json").read_text())["split"]
    assert ma == mb


def test_round_trip_identical_probabilities(bert_dir):
    clf, proba, saved, _ = rescore(bert_dir / "bert")
    np.testing.assert_allclose(proba, saved, atol=1e-5)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    assert clf.labels == ("stress", "depression", "bipolar", "personality disorder", "anxiety")


def _tok(tiny_encoder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_encoder)


def test_chunks_cover_the_whole_text(tiny_encoder):
    tok = _tok(tiny_encoder)
    text = " ".join(f"stress panic mood {i}" for i in range(60))
    full = tok(text, add_special_tokens=False)["input_ids"]
    max_len, stride = 32, 8
    windows, owner, counts = encode_chunks(tok, [text], max_len, stride, None, truncate=False)
    assert counts[0] == len(windows) > 1 and (owner == 0).all()
    body = [w[1:-1] for w in windows]  # drop [CLS] / [SEP]
    rebuilt = list(body[0])
    for b in body[1:]:
        assert b[:stride] == rebuilt[-stride:]  # windows overlap by exactly `stride` tokens
        rebuilt.extend(b[stride:])
    assert rebuilt == full
    assert all(len(w) <= max_len for w in windows)


def test_aggregate_is_the_mean_of_window_probabilities():
    p = np.array([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]])
    out = aggregate(p, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(out, [[0.6, 0.4], [0.1, 0.9]])


def test_chunking_vs_truncation_on_a_long_post(tiny_encoder):
    from transformers import AutoModelForSequenceClassification

    tok = _tok(tiny_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=5)
    cfg = InferenceConfig(max_length=32, stride=8, max_chunks=None, batch_size=4)
    clf = BertClassifier(model, tok, config=cfg, device="cpu")
    long_post = "stress deadline " * 20 + "bipolar manic lithium " * 40
    chunked = clf.predict_proba([long_post], long_text="chunk")
    truncated = clf.predict_proba([long_post], long_text="truncate")
    windows, owner, _ = encode_chunks(tok, [long_post], 32, 8, None, truncate=False)
    per_window = softmax(window_logits(model, windows, tok.pad_token_id, 4, clf.device, clf.precision))
    np.testing.assert_allclose(chunked[0], per_window.mean(0), atol=1e-6)
    np.testing.assert_allclose(truncated[0], per_window[0], atol=1e-6)
    assert len(windows) > 2 and not np.array_equal(per_window[0], per_window[-1])
    # batching and length-sorting do not change a post's probabilities
    mixed = clf.predict_proba(["short stress post", long_post, "panic"], long_text="chunk")
    np.testing.assert_allclose(mixed[1], chunked[0], atol=1e-5)
    capped = BertClassifier(model, tok, config=InferenceConfig(max_length=32, stride=8, max_chunks=2), device="cpu")
    _, _, counts = encode_chunks(tok, [long_post], 32, 8, 2, truncate=False)
    assert counts[0] == 2 and capped.predict_proba([long_post]).shape == (1, 5)


def test_quantized_copy_agrees_with_fp32(bert_dir, monkeypatch):
    monkeypatch.setenv("MHX_BERT_PRECISION", "fp32")
    clf = load_classifier(bert_dir / "bert").base  # the BERT model itself, before calibration
    texts = pd.read_csv(bert_dir / "bert" / "predictions.csv", keep_default_na=False)["text"].tolist()
    p32, p8 = clf.predict_proba(texts), clf.quantized().predict_proba(texts)
    assert not np.array_equal(p32, p8)  # int8 really ran
    np.testing.assert_allclose(p8, p32, atol=0.05)
    np.testing.assert_allclose(p8.sum(1), 1.0, atol=1e-6)
    close_calls = np.sort(p32, axis=1)[:, -1] - np.sort(p32, axis=1)[:, -2] < 0.05
    assert (p8.argmax(1) == p32.argmax(1))[~close_calls].all()


def test_precision_resolution(monkeypatch):
    monkeypatch.setattr(bert_mod, "cpu_has_amx", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(bert_mod, "cpu_has_amx", lambda: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    assert resolve_precision("FP32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("fp16", "cuda:0") == "fp16"  # only a GPU runs fp16 (checked by name; none needed here)
    with pytest.raises(ConfigError, match="needs a GPU"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="Unknown BERT precision 'int4'"):
        resolve_precision("int4", "cpu")


def test_bf16_tracks_fp32_and_env_override(bert_dir, monkeypatch):
    preds = pd.read_csv(bert_dir / "bert" / "predictions.csv", keep_default_na=False)
    texts = preds["text"].tolist()
    monkeypatch.setenv("MHX_BERT_PRECISION", "fp32")
    fp32 = BertClassifier.load(bert_dir / "bert")
    monkeypatch.setenv("MHX_BERT_PRECISION", "bf16")
    bf16 = BertClassifier.load(bert_dir / "bert")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    p32, p16 = fp32.predict_proba(texts), bf16.predict_proba(texts)
    assert not np.array_equal(p32, p16)  # bf16 really ran
    np.testing.assert_allclose(p16, p32, atol=0.02)
    np.testing.assert_allclose(p16.sum(1), 1.0, atol=1e-6)
    monkeypatch.setenv("MHX_BERT_PRECISION", "half")
    with pytest.raises(ConfigError, match="Unknown BERT precision"):
        BertClassifier.load(bert_dir / "bert")


def test_missing_and_corrupt_model_folders(bert_dir, tmp_path):
    with pytest.raises(ArtifactError, match="No model folder"):
        load_classifier(tmp_path / "absent")
    d = tmp_path / "bert"
    shutil.copytree(bert_dir / "bert", d)
    (d / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ArtifactError, match="does not match its manifest"):
        load_classifier(d)
    with pytest.raises(ArtifactError, match="could not be loaded as a BERT model"):
        BertClassifier.load(d)  # bypassing the manifest: safetensors itself refuses the file
    (d / "model.safetensors").unlink()
    with pytest.raises(ArtifactError, match="no model.safetensors"):
        BertClassifier.load(d)


def test_unknown_encoder_is_a_clear_error(fixture_csv, tmp_path, capsys):
    rc = main(["--data", str(fixture_csv), "--out", str(tmp_path / "m"), "--models", "bert",
               "--bert-model", str(tmp_path / "no-such-encoder"), "--max-steps", "1"])
    assert rc == 2
    assert "no such folder" in capsys.readouterr().err
    assert not (tmp_path / "m" / "bert").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(stride=c["max_length"]), "stride .* is not below max_length"),
    (lambda c: c.update(max_length=100_000), "max_length 100000 is outside"),
    (lambda c: c.update(long_text="summarise"), "long_text should be one of"),
    (lambda c: c.update(batch_size="32"), "batch_size should be an integer"),
])
def test_edited_bert_settings_are_refused_in_one_line(edit, message, bert_dir, tmp_path):
    d = tmp_path / "bert"
    shutil.copytree(bert_dir / "bert", d)
    cfg = json.loads((d / BERT_CONFIG_FILE).read_text())
    edit(cfg)
    (d / BERT_CONFIG_FILE).write_text(json.dumps(cfg))
    man = json.loads((d / "manifest.json").read_text())
    man["files"][BERT_CONFIG_FILE] = sha256_file(d / BERT_CONFIG_FILE)  # re-hashed: the hash check passes
    (d / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ArtifactError, match=message):
        load_classifier(d)


def test_a_bert_model_with_another_class_count_is_refused(bert_dir, tmp_path):
    d = tmp_path / "bert"
    shutil.copytree(bert_dir / "bert", d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["id2label"] = {str(i): f"c{i}" for i in range(3)}
    cfg["label2id"] = {f"c{i}": i for i in range(3)}
    (d / "config.json").write_text(json.dumps(cfg))
    man = json.loads((d / "manifest.json").read_text())
    man["files"]["config.json"] = sha256_file(d / "config.json")
    (d / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ArtifactError, match="could not be loaded as a BERT model"):
        load_classifier(d)


def test_fresh_head_is_one_log_line_not_a_load_report(tiny_encoder, tmp_path, caplog, capsys):
    from transformers import BertModel

    bare = tmp_path / "encoder-without-head"
    shutil.copytree(tiny_encoder, bare)
    BertModel.from_pretrained(tiny_encoder).save_pretrained(bare)  # a plain encoder, as on the hub
    capsys.readouterr()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        load_encoder(str(bare), ("a", "b", "c"))
    text = caplog.text + "".join(capsys.readouterr())
    assert "LOAD REPORT" not in text and "MISSING" not in text
    assert "the new classification head (expected when fine-tuning)" in caplog.text


def _posts() -> dict[str, str]:
    """Ordinary and long posts, among them ones that make a prefix cut land inside a word."""
    rng = random.Random(0)
    vocab = [w for ws in CLASS_WORDS.values() for w in ws] + FILLER
    made_up = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 12))) for _ in range(4000)]
    return {
        "ordinary": "i feel so stressed about my exams today, and my heart is racing",
        "long, known words": " ".join(rng.choice(vocab) for _ in range(3000)),
        "long, many word pieces": "\n".join(" ".join(made_up[i:i + 20]) for i in range(0, 4000, 20)),
        "bangs": "!" * 200_000,
        "one 200,000-letter word": "a" * 200_000,
        "words over 100 letters": ("x" * 150 + " ") * 1300,
        "no space, 90-letter words": "stress " + ("abc" * 30 + "!") * 2000,
    }


def _today(tok, texts, max_length, stride, max_chunks, truncate):
    """The windows as every post tokenised in full, then capped, gives them: the unbounded reference."""
    enc = tok(list(texts), truncation=True, max_length=max_length, stride=stride,
              return_overflowing_tokens=not truncate)
    per_post = [[] for _ in texts]
    for ids, o in zip(enc["input_ids"], enc["overflow_to_sample_mapping"] if not truncate else range(len(texts))):
        per_post[o].append(ids)
    return [w[:1 if truncate else max_chunks] for w in per_post]


def _grouped(windows, owner, n):
    per_post = [[] for _ in range(n)]
    for w, o in zip(windows, owner):
        per_post[o].append(w)
    return per_post


@pytest.mark.parametrize("max_chunks, truncate", [(3, False), (1, False), (16, False), (3, True)])
def test_bounded_tokenising_keeps_every_scored_window(tiny_encoder, max_chunks, truncate):
    tok = _tok(tiny_encoder)
    texts = list(_posts().values())
    heads = bounded_texts(tok, texts, tokens_scored(32, 8, 1 if truncate else max_chunks))
    assert sum(len(h) < len(t) for h, t in zip(heads, texts)) >= 5  # the long posts really are cut
    windows, owner, counts = encode_chunks(tok, texts, 32, 8, max_chunks, truncate)
    assert _grouped(windows, owner, len(texts)) == _today(tok, texts, 32, 8, max_chunks, truncate)
    assert counts.tolist() == [len(w) for w in _today(tok, texts, 32, 8, max_chunks, truncate)]


def test_long_posts_score_as_before_and_tokenise_a_bounded_prefix(tiny_encoder, monkeypatch):
    clf = tiny_classifier(tiny_encoder, max_length=32, stride=8, max_chunks=4, batch_size=8)
    made = []  # token ids each tokenizer call returns, all posts together
    tokenize = clf.tokenizer.__class__.__call__

    def spy(self, *args, **kwargs):
        out = tokenize(self, *args, **kwargs)
        made.append(sum(len(ids) for ids in out["input_ids"]))
        return out

    texts = list(_posts().values())
    reference = _today(clf.tokenizer, texts, 32, 8, 4, False)
    owner = np.repeat(np.arange(len(texts)), [len(w) for w in reference])
    flat = [w for ws in reference for w in ws]
    expected = aggregate(softmax(window_logits(clf.model, flat, clf.tokenizer.pad_token_id, 8, clf.device)),
                         owner, len(texts))
    monkeypatch.setattr(type(clf.tokenizer), "__call__", spy)
    got = clf.predict_proba(texts)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # 4 windows reach 96 tokens a post; in full, the 200,000 "!" alone are 290,000 ids of windows
    assert made and max(made) < 20_000, made


def test_invalid_utf8_in_a_post_scores_as_the_replacement_character(tiny_encoder):
    clf = tiny_classifier(tiny_encoder, max_length=32, stride=8)
    post = "i feel sad " + b"\xff\xfe today".decode("utf-8", "surrogateescape")  # as argv/stdin deliver it
    got = clf.predict_proba([post, "panic \udc80"])
    np.testing.assert_allclose(got, clf.predict_proba(["i feel sad \ufffd\ufffd today", "panic \ufffd"]), atol=1e-6)


def test_training_logs_its_first_step_and_says_its_precision_in_words(fixture_csv, tiny_encoder, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mhexplain.train"):
        rc = main(["--data", str(fixture_csv), "--out", str(tmp_path / "m"), "--models", "bert", "--jobs", "1",
                   "--cache-dir", str(tmp_path / "c"), "--bert-model", str(tiny_encoder), "--epochs", "1",
                   "--max-steps", "3", "--max-length", "32", "--stride", "8", "--batch-size", "8"])
    assert rc == 0
    text = caplog.text
    assert "step 1/3: training loss" in text and " s/step; about " in text  # at once, not at step --log-every
    assert "step 2/3" not in text  # then every --log-every (50) steps or 30 s
    # auto: fp32 on this machine's CPU unless it has AMX tiles (then bf16; see test_bert_scale)
    assert f"on cpu: {precision_words(training_precision('auto', 'cpu'))}, 1 process\n" in text
    assert "precision no" not in text and "process(es)" not in text


def test_a_loss_line_comes_at_the_first_step_then_by_steps_or_seconds():
    assert log_due(1, 50, 0.0)
    assert not log_due(2, 50, 1.0) and not log_due(49, 50, LOG_SECONDS - 1)
    assert log_due(50, 50, 0.0) and log_due(100, 50, 0.0)
    assert log_due(7, 50, LOG_SECONDS)


@pytest.mark.parametrize("mixed, words", [("no", "fp32 throughout (no mixed precision)"),
                                          ("bf16", "bf16 mixed precision with fp32 weights")])
def test_precision_in_words(mixed, words):
    assert precision_words(mixed) == words
    assert (processes(1), processes(2)) == ("1 process", "2 processes")
