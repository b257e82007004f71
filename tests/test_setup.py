"""The setup the README's first command runs: the CPU torch wheel on machines without an NVIDIA GPU."""
import os
import shutil
import subprocess

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def _planned_install(tmp_path, with_gpu: bool, *args) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if with_gpu:
        fake = bin_dir / "nvidia-smi"
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    # -n: print the commands only; -B: as on a fresh machine, whatever is installed here.
    r = subprocess.run(["make", "-n", "-B", "VENV=" + str(tmp_path / "venv"), *args,
                        str(tmp_path / "venv" / "bin" / ".installed")], cwd=ROOT, env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    return next(line for line in r.stdout.splitlines() if "install" in line and "torch==" in line)


def test_cpu_machine_gets_the_cpu_wheel(tmp_path):
    assert "--index-url https://download.pytorch.org/whl/cpu" in _planned_install(tmp_path, with_gpu=False)


def test_gpu_machine_gets_pypis_cuda_build(tmp_path):
    assert "--index-url" not in _planned_install(tmp_path, with_gpu=True)


def test_the_choice_can_be_overridden(tmp_path):
    assert "--index-url" not in _planned_install(tmp_path, False, "TORCH_INDEX=")


def test_run_trains_on_your_own_csv_into_its_own_folder(tmp_path):
    """The README's own-data example: `make run DATA=... TRAIN_ARGS=...` trains on that file, with
    those columns, into models-<its name>/, and serves that folder."""
    r = subprocess.run(["make", "-n", "-B", "VENV=" + str(tmp_path / "venv"), "DATA=/x/my_posts.csv",
                        "TRAIN_ARGS=--text-col body --label-col code", "run"], cwd=ROOT, capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k not in ("MHX_DATA", "MHX_MODELS_DIR")})
    assert r.returncode == 0, r.stderr
    train = next(line for line in r.stdout.splitlines() if "-m train" in line)
    assert '--data "/x/my_posts.csv" --models nb,lr --text-col body --label-col code' in train
    assert '[ ! -d "models-my_posts/lr" ]' in r.stdout
    serve = next(line for line in r.stdout.splitlines() if "streamlit run app.py" in line)
    assert "MHX_ALLOW_TRAINING=1" in serve
