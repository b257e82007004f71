"""BERT training at scale: batch sharding, precision, fp32 master weights, offline errors, and a real
two-process run under accelerate's launcher (a CPU process group: gloo)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mhexplain.errors import ConfigError
from train.bert import batch_loader, length_grouped_batches, load_encoder, shard_batches, training_precision

from .helpers import ROOT, rescore

TINY_ARGS = ["--epochs", "2", "--max-length", "32", "--stride", "8", "--batch-size", "8", "--jobs", "1"]


@pytest.mark.parametrize("n_batches, world", [(19, 2), (20, 2), (7, 3), (5, 4), (9, 1)])
def test_every_process_gets_the_same_number_of_batches(n_batches, world):
    batches = [np.array([i]) for i in range(n_batches)]
    shares = [shard_batches(batches, r, world) for r in range(world)]
    assert len({len(s) for s in shares}) == 1
    seen = {int(b[0]) for s in shares for b in s}
    assert seen == set(range(n_batches))  # padding repeats batches, never drops one
    assert sum(len(s) for s in shares) - n_batches < world


def test_the_loader_yields_the_planned_padded_batches():
    ids = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]]
    labels = np.array([0, 1, 2, 3])
    batches = length_grouped_batches(np.array([len(x) for x in ids]), 2, np.random.default_rng(0))
    got = list(batch_loader(ids, labels, batches, pad_id=0, device="cpu"))
    assert len(got) == len(batches)
    for (inp, mask, lab), rows in zip(got, batches):
        assert lab.tolist() == labels[rows].tolist()
        assert inp.shape[1] == max(len(ids[r]) for r in rows) and mask.sum().item() == sum(len(ids[r]) for r in rows)


def test_training_precision_choices():
    assert training_precision("auto", cuda=False) == "no"
    assert training_precision("fp32", cuda=True) == "no"
    assert training_precision("bf16", cuda=False) == "bf16"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        training_precision("fp16", cuda=False)


def test_a_half_precision_checkpoint_trains_with_fp32_weights(tiny_encoder, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    half = tmp_path / "half"
    shutil.copytree(tiny_encoder, half)
    AutoModelForSequenceClassification.from_pretrained(tiny_encoder).to(torch.float16).save_pretrained(half)
    _, model = load_encoder(str(half))
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_bf16_training_scores_the_test_set_in_the_recorded_precision(fixture_csv, tiny_encoder, tmp_path):
    out = tmp_path / "m"
    # In a process of its own: accelerate keeps one precision per process, and the other tests train in fp32.
    r = subprocess.run([sys.executable, "-m", "train", "--data", str(fixture_csv), "--out", str(out), "--models",
                        "bert", "--bert-model", str(tiny_encoder), "--precision", "bf16", "--cache-dir",
                        str(tmp_path / "c"), *TINY_ARGS], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-2000:]
    params = json.loads((out / "bert" / "manifest.json").read_text())["params"]
    assert (params["precision_requested"], params["precision"], params["master_weights"]) == ("bf16", "bf16", "fp32")
    assert params["train_loop_seconds"] > 0 and params["validation_seconds"] > 0
    # predictions.csv was scored during training; reloading the artifact scores in its eval precision
    _, fresh, saved, _ = rescore(out / "bert")
    np.testing.assert_allclose(fresh, saved, atol=1e-5)


def test_offline_default_encoder_names_the_fix(fixture_csv, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "train", "--data", str(fixture_csv), "--out", str(tmp_path / "m"),
                        "--models", "bert", "--bert-model", "bert-base-uncased", *TINY_ARGS],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "--bert-model DIR" in last and "--bert-model minilm" in last
    assert "Traceback" not in r.stderr and not (tmp_path / "m" / "bert").exists()


@pytest.mark.skipif(shutil.which("accelerate", path=os.path.dirname(sys.executable)) is None,
                    reason="accelerate's launcher is not installed")
def test_two_processes_train_with_one_schedule_and_equal_batches(fixture_csv, tiny_encoder, tmp_path):
    out = tmp_path / "m2"
    launcher = os.path.join(os.path.dirname(sys.executable), "accelerate")
    # accelerate's --cpu launcher starts one process unless MPI is set up; its torchrun launcher
    # ("--multi_gpu") starts two, which form a CPU group on a machine without CUDA.
    r = subprocess.run([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "train", "--data", str(fixture_csv),
                        "--out", str(out), "--models", "bert", "--bert-model", str(tiny_encoder),
                        "--cache-dir", str(tmp_path / "c"), *TINY_ARGS],
                       cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    manifest = json.loads((out / "bert" / "manifest.json").read_text())
    metrics = json.loads((out / "bert" / "metrics.json").read_text())
    assert manifest["params"]["processes"] == 2
    history = metrics["history"]
    assert [len(h["batches_per_process"]) for h in history] == [2, 2]
    assert all(len(set(h["batches_per_process"])) == 1 for h in history)
    # one linear schedule over the whole run: still decaying after the first epoch, zero at the end
    assert 0 < history[0]["lr"] < manifest["params"]["learning_rate"]
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert manifest["params"]["final_learning_rate"] == pytest.approx(0.0, abs=1e-12)
    # the same artifact contract as one process: it loads, verifies and re-scores to what it saved
    _, fresh, saved, preds = rescore(out / "bert")
    np.testing.assert_allclose(fresh, saved, atol=1e-5)
    one = sorted(p.name for p in (out / "bert").iterdir())
    assert {"manifest.json", "metrics.json", "predictions.csv", "model.safetensors", "calibration.json"} <= set(one)
    assert not (out / "nb").exists()
