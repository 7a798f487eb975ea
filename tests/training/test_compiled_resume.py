"""A compiled run resumes: the checkpoint's parameter names are the model's own, with or without
torch.compile's `_orig_mod.` wrapper (the eager backend spares the inductor compile on the CPU).
Run with `pytest -m slow tests/training/test_compiled_resume.py`."""

from __future__ import annotations

import pytest

from spark_trainer.training.checkpoints import latest_checkpoint
from tests.training.helpers import make_config
from tests.training.test_engine import train


@pytest.mark.slow  # dynamo traces the model twice: ~2 min on this loaded 2-core machine
def test_compiled_run_stopped_then_resumed_completes(tiny_model, counting_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", "eager")
    config = make_config(tiny_model, train={"max_steps": 4, "compile": True})
    stopped, first = train(config, counting_data, tmp_path / "run", stop_at=2)
    assert stopped.status == "stopped" and any("torch.compile on (eager, " in line for line in first.logs)
    resumed, second = train(config, counting_data, tmp_path / "run", resume_from=latest_checkpoint(tmp_path / "run"))
    assert resumed.status == "completed" and list(second.series("loss")) == [3, 4]
