"""Which checkpoint an export or evaluation takes, and the words of a refusal (the app's Export and
Evaluate dialogs show them under their Checkpoint box, where no flag can be passed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.export.checkpoint import resolve_checkpoint
from spark_trainer.training.checkpoints import STATE_FILE


def _checkpoint(run_dir: Path, step: int) -> Path:
    folder = run_dir / "checkpoints" / f"step-{step:08d}"
    folder.mkdir(parents=True)
    (folder / STATE_FILE).write_text("{}")
    return folder


def test_best_without_an_evaluation_says_what_to_choose_in_words_both_the_app_and_the_command_fit(tmp_path):
    # It said "use --checkpoint last or a step" to someone who had chosen "best" in the Export dialog.
    _checkpoint(tmp_path, 10)
    last = _checkpoint(tmp_path, 20)
    assert resolve_checkpoint(tmp_path, "last", run_id=3) == (last, 20)
    with pytest.raises(BadInput) as refused:
        resolve_checkpoint(tmp_path, "best", run_id=3)
    assert str(refused.value) == ("run 3 has no evaluated checkpoint, so there is no best one; use the last "
                                  "checkpoint or a step (set eval.every_steps to evaluate while training)")
