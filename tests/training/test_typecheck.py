"""The engine and the recipes type-check: `Recipe` (spark_trainer.recipes.base) is the type the
engine uses, so a recipe that drifts from the protocol, or an engine call the protocol does not
declare, fails here rather than mid-run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_mypy_passes_on_training_and_recipes(tmp_path):
    pytest.importorskip("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
         str(tmp_path / "mypy-cache"), "spark_trainer/training", "spark_trainer/recipes"],
        cwd=ROOT, capture_output=True, text=True, timeout=880)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

