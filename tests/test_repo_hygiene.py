"""What the README tells users to create never lands in a commit by accident."""
import shutil
import subprocess

import pytest

from .helpers import ROOT

# Folders the README's commands write (trained models hold real posts in predictions.csv).
WRITTEN = ["models/lr/predictions.csv", "models-reference/lr/predictions.csv", "models-masked/nb/model.skops",
           "models_minilm/bert/model.safetensors", "data/data_to_be_cleansed.csv"]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
@pytest.mark.parametrize("path", WRITTEN)
def test_readme_outputs_are_git_ignored(path):
    r = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT)
    assert r.returncode == 0, f"{path} is not git-ignored"
