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


def test_a_word_that_is_not_last_best_or_a_step_is_refused_as_such(tmp_path):
    # Seen in a CLI walk: `eval --checkpoint final` (generate's word) and `--checkpoint bogus` said "run 1
    # has no checkpoint at step bogus"; export said "must be last, best or a step number".
    _checkpoint(tmp_path, 10)
    assert resolve_checkpoint(tmp_path, "10", run_id=3)[1] == 10
    with pytest.raises(BadInput, match="^--checkpoint 'bogus' must be last, best or a step number$"):
        resolve_checkpoint(tmp_path, "bogus", run_id=3)
    with pytest.raises(BadInput, match="'final' must be last, best or a step number; a completed run's last "
                                       "checkpoint is its final step$"):
        resolve_checkpoint(tmp_path, "final", run_id=3)
    with pytest.raises(BadInput, match="no checkpoint at step 20; its checkpoints are at steps 10$"):
        resolve_checkpoint(tmp_path, 20, run_id=3)
