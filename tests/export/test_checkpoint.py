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


def test_a_damaged_checkpoint_is_one_line_naming_its_file_for_export_generate_and_eval(lora_run, tmp_path, capsys):
    """`truncate -s 30000 .../trainable.safetensors; export 5 --checkpoint 91` (and generate) ended in a
    traceback ('SafetensorError: Error while deserializing header: incomplete metadata'), and eval in that
    message alone: each names the damaged file (not the pinned link it read it through), says it is damaged,
    points at the run's other checkpoints, and an export leaves nothing half-written."""
    import os
    import shutil

    from spark_trainer.cli.main import main
    from spark_trainer.store.models import RunRow
    from spark_trainer.store.store import Store
    from tests.worker_here import evaluated_here

    home = tmp_path / "home"
    shutil.copytree(lora_run[0], home)
    run = lora_run[1]
    run_dir = home / Path(run.run_dir).relative_to(lora_run[0])
    with Store.open(home) as store, store.write() as session:  # the copy's run is the copied folder
        session.get(RunRow, run.id).run_dir = str(run_dir)
    damaged = run_dir / "checkpoints" / "step-00000003" / "trainable.safetensors"
    os.truncate(damaged, damaged.stat().st_size // 2)
    said = f"{damaged} is damaged (incomplete metadata"

    def cli(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--home", str(home), *args])
        return code, *capsys.readouterr()

    for args in (["export", str(run.id), "--checkpoint", "3", "--out", str(tmp_path / "out")],
                 ["generate", str(run.id), "--prompt", "count 1", "--checkpoint", "3", "--device", "cpu"]):
        code, _, err = cli(*args)
        err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("  writing"))
        assert code != 0 and err.count("\n") == 1 and "Traceback" not in err, err
        assert said in err and "choose another checkpoint (step 6)" in err, err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".staging-*"))
    assert not list(run_dir.glob(".pinned-*"))
    (tmp_path / "held-out.txt").write_text("count 1 2 3 4 5\ncount 7 8 9 10 11\n")
    with evaluated_here():
        code, out, err = cli("eval", str(run.id), "--task", "perplexity", "--checkpoint", "3", "--gpus", "cpu",
                        "--data", str(tmp_path / "held-out.txt"))
    assert code != 0 and said in out + err, (out, err)


def test_best_says_when_the_best_evaluation_was_at_a_step_never_saved(store, tmp_path):
    # A night-queue walk: a run that failed on a full disk after evaluating step 2 (eval_loss 1.111, its
    # weights never saved) was ranked first by the leaderboard on that value, and `export --checkpoint best`
    # exported step 1 without a word.
    import json

    from spark_trainer.export.checkpoint import unsaved_best
    from spark_trainer.store import experiments, metrics, projects, runs

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id)
    saved = _checkpoint(tmp_path, 1)
    (saved / STATE_FILE).write_text(json.dumps({"step": 1, "metric": 1.25, "metric_step": 1,
                                                "metric_key": "eval_loss", "higher_is_better": False}))
    metrics.add_batch(store, run.id, [("eval_loss", 1, 1.25), ("eval_loss", 2, 1.111)])
    assert unsaved_best(store, run.id, tmp_path, 1) == (
        "note: the best eval_loss, 1.111 at step 2, has no checkpoint (its weights were not saved); exported the "
        "best checkpoint kept, step 1 (eval_loss 1.25)")
    metrics.add_batch(store, run.id, [("eval_loss", 3, 1.3)])  # worse later: step 2 is still the best
    assert "1.111 at step 2" in (unsaved_best(store, run.id, tmp_path, 1) or "")

    other = runs.create(store, exp.id)  # its best evaluation is the checkpoint's own: nothing to say
    metrics.add_batch(store, other.id, [("eval_loss", 1, 1.25), ("eval_loss", 2, 1.4)])
    assert unsaved_best(store, other.id, tmp_path, 1) is None


def test_a_checkpoint_without_its_weights_file_is_one_line_naming_its_step_and_the_whole_ones(tmp_path):
    # Seen: a job folder's checkpoint without trainable.safetensors was imported; `export 2 --checkpoint 12` then
    # said "I/O error ...: No such file or directory: .../runs/2/.pinned-@.../step-00000012/trainable.safetensors".
    import json

    from spark_trainer.export.checkpoint import read_tensors

    _checkpoint(tmp_path, 3)
    _checkpoint(tmp_path, 6)
    also_broken = _checkpoint(tmp_path, 9)
    (also_broken / STATE_FILE).write_text(json.dumps({"step": 9, "files": ["trainable.safetensors"]}))
    pinned = tmp_path / ".pinned-@host-1-2-abcd1234" / "step-00000006" / "trainable.safetensors"
    pinned.parent.mkdir(parents=True)
    with pytest.raises(BadInput) as refused:
        read_tensors(pinned)
    assert str(refused.value) == (f"{tmp_path / 'checkpoints' / 'step-00000006' / 'trainable.safetensors'} is "
                                  "missing, so checkpoint step 6 cannot be read; choose another checkpoint (step 3)")


def test_a_pin_names_what_reads_through_it_for_a_delete_to_say(tmp_path):
    import os

    from spark_trainer.export.checkpoint import PinHolder, pin_holders, pinned_checkpoint

    _checkpoint(tmp_path, 10)
    assert pin_holders(tmp_path) == []
    with pinned_checkpoint(tmp_path, "last", run_id=3, by="export"):
        assert pin_holders(tmp_path) == [PinHolder("export", os.getpid())]
    assert pin_holders(tmp_path) == []


def test_without_hard_links_the_pin_still_says_who_reads_the_checkpoint(tmp_path, monkeypatch):
    """A filesystem without hard links: the export reads the folder itself, and an empty pin still keeps a
    delete of the run from removing it mid-read."""
    import errno
    import os

    from spark_trainer.export import checkpoint

    def no_links(_src, _dest):
        raise OSError(errno.EPERM, "Operation not permitted")

    last = _checkpoint(tmp_path, 10)
    monkeypatch.setattr(checkpoint.os, "link", no_links)
    with checkpoint.pinned_checkpoint(tmp_path, "last", run_id=3, by="export") as (read, _step):
        assert read == last
        assert checkpoint.pin_holders(tmp_path) == [checkpoint.PinHolder("export", os.getpid())]
    assert checkpoint.pin_holders(tmp_path) == [] and not list(tmp_path.glob(".pinned-*"))


def test_a_run_without_a_checkpoint_is_told_to_train_or_resume_until_it_saves_one(tmp_path):
    # A run paused during its start-up has none, and "train it first" read as if it had never trained.
    with pytest.raises(BadInput) as refused:
        resolve_checkpoint(tmp_path / "run", "last", run_id=12)
    assert str(refused.value) == ("run 12 has no complete checkpoint to export or evaluate yet; train or resume it "
                                  "until it saves one")
