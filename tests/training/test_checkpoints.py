"""Checkpoints are published atomically: an interrupted write is never picked as latest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_trainer.errors import BadInput, DiskFull
from spark_trainer.training import checkpoints
from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint, write_checkpoint


def _text_writer(text: str):
    return lambda path: Path(path).write_text(text)


def test_failing_fsync_leaves_the_previous_checkpoint_latest(tmp_path, monkeypatch):
    first = write_checkpoint(tmp_path, 1, {"weights.bin": _text_writer("one")}, {"metric": 1.0})
    calls = {"n": 0}
    real_fsync = os.fsync

    def flaky_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second file of the new checkpoint
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", flaky_fsync)
    # EIO becomes one clear line naming the file and what is still intact (issue 14, item 2).
    with pytest.raises(DiskFull, match=r"I/O error writing .*optimizer.pt: Input/output error .* the last complete "
                                       r"checkpoint is still step-00000001"):
        write_checkpoint(tmp_path, 2, {"weights.bin": _text_writer("two"), "optimizer.pt": _text_writer("x")}, {})
    assert latest_checkpoint(tmp_path) == first
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000001"]


WRITER = """
import sys, time
from pathlib import Path
from spark_trainer.training.checkpoints import write_checkpoint

def slow(path):
    Path(path).write_text("partial")
    print("writing", flush=True)
    time.sleep(60)

write_checkpoint(Path(sys.argv[1]), 5, {"weights.bin": slow}, {})
"""


def test_writer_killed_mid_write_is_never_latest(tmp_path):
    done = write_checkpoint(tmp_path, 4, {"weights.bin": _text_writer("four")}, {})
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    leftovers = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert leftovers == [".staging-step-00000005", "step-00000004"]  # the half-written one stayed staged
    assert latest_checkpoint(tmp_path) == done
    # Even a folder with the final name but no state.json (a copy cut short) does not count.
    (tmp_path / "checkpoints" / "step-00000009").mkdir()
    assert latest_checkpoint(tmp_path) == done
    checkpoints.prune(tmp_path, keep=3, keep_best=True)
    assert not (tmp_path / "checkpoints" / ".staging-step-00000005").exists()


def test_prune_keeps_the_last_k_and_the_best(tmp_path):
    metrics = {1: 3.0, 2: 1.0, 3: 2.5, 4: 2.0, 5: 2.2}
    for step, metric in metrics.items():
        write_checkpoint(tmp_path, step, {"w": _text_writer(str(step))}, {"metric": metric})
        time.sleep(0)  # writes are ordered by step, not time
    removed = checkpoints.prune(tmp_path, keep=2, keep_best=True)
    assert sorted(checkpoint_step(p) for p in removed) == [1, 3]
    assert [checkpoint_step(p) for p in checkpoints.list_checkpoints(tmp_path)] == [2, 4, 5]
    assert checkpoint_step(checkpoints.best_checkpoint(tmp_path)) == 2


def test_only_a_checkpoint_evaluated_at_its_own_step_can_be_the_best(tmp_path):
    """Evaluations every 100 steps, checkpoints every 150: the checkpoint at 150 carries the loss measured
    at step 100 (its weights were never evaluated), and must not be kept or exported as the best for it."""
    saved = {150: (1.0, 100), 300: (2.0, 300), 450: (1.5, 400), 600: (3.0, 600)}  # step: (eval loss, measured at)
    for step, (metric, measured) in saved.items():
        write_checkpoint(tmp_path, step, {"w": _text_writer(str(step))},
                         {"metric": metric, "metric_step": measured, "higher_is_better": False})
    assert checkpoint_step(checkpoints.best_checkpoint(tmp_path)) == 300
    removed = checkpoints.prune(tmp_path, keep=1, keep_best=True)
    assert sorted(checkpoint_step(p) for p in removed) == [150, 450]  # unevaluated ones rotate out as usual
    assert [checkpoint_step(p) for p in checkpoints.list_checkpoints(tmp_path)] == [300, 600]


def test_checkpoints_from_before_metric_step_was_recorded_are_ranked_by_their_metric(tmp_path):
    for step, metric in {1: 3.0, 2: 1.0, 3: 2.0}.items():  # no metric_step: written before it existed
        write_checkpoint(tmp_path, step, {"w": _text_writer(str(step))}, {"metric": metric})
    assert checkpoint_step(checkpoints.best_checkpoint(tmp_path)) == 2


def test_without_a_checkpoint_evaluated_at_its_step_there_is_no_best(tmp_path):
    for step, measured in {150: 100, 250: 200}.items():
        write_checkpoint(tmp_path, step, {"w": _text_writer(str(step))},
                         {"metric": 1.0, "metric_step": measured, "higher_is_better": False})
    assert checkpoints.best_checkpoint(tmp_path) is None
    removed = checkpoints.prune(tmp_path, keep=1, keep_best=True)
    assert [checkpoint_step(p) for p in removed] == [150]


def test_checkpoint_step_rejects_other_names(tmp_path):
    assert checkpoint_step(Path("runs/3/checkpoints/step-00000123")) == 123
    with pytest.raises(BadInput):
        checkpoint_step(tmp_path / ".staging-step-00000001")


def test_prune_and_best_follow_the_direction_each_checkpoint_recorded(tmp_path):
    # An accuracy-like metric: the highest is the best, so step 2 (0.9) survives pruning.
    accuracy = {1: 0.5, 2: 0.9, 3: 0.6, 4: 0.7, 5: 0.65}
    for step, metric in accuracy.items():
        write_checkpoint(tmp_path, step, {"w": _text_writer(str(step))},
                         {"metric": metric, "metric_key": "eval_accuracy", "higher_is_better": True})
    removed = checkpoints.prune(tmp_path, keep=2, keep_best=True)
    assert sorted(checkpoint_step(p) for p in removed) == [1, 3]
    assert checkpoint_step(checkpoints.best_checkpoint(tmp_path)) == 2


def test_gradient_scaler_round_trips_through_a_checkpoint(tmp_path):
    import types

    import torch

    from spark_trainer.training.checkpoints import restore_scaler, scaler_files, write_checkpoint

    saved = types.SimpleNamespace(scaler=torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=3))
    saved.scaler._lazy_init_scale_growth_tracker(torch.device("cpu"))
    saved.scaler._scale.fill_(96.0)
    saved.scaler._growth_tracker.fill_(2)
    path = write_checkpoint(tmp_path, 5, scaler_files(saved), {})
    fresh = types.SimpleNamespace(scaler=torch.amp.GradScaler("cpu"))
    restore_scaler(path, fresh)
    assert fresh.scaler.state_dict() == saved.scaler.state_dict()
    assert scaler_files(types.SimpleNamespace(scaler=None)) == {}  # bf16/fp32: nothing to save


def test_a_step_saved_again_keeps_its_old_copy_until_the_new_one_is_in_place(tmp_path, monkeypatch):
    # faultwalk: a resume at its last step saved step-12 again, removing the old folder before moving the
    # new one in; a kill between the two left no checkpoint (with keep: 1, every trained step lost).
    old = write_checkpoint(tmp_path, 12, {"weights.bin": _text_writer("old")}, {"metric": 1.0})
    real_replace = os.replace

    def killed_at_the_new_copy(src, dst):
        if ".staging-" in str(src):
            raise KeyboardInterrupt  # the kill: nothing after this line runs
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_at_the_new_copy)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(tmp_path, 12, {"weights.bin": _text_writer("new")}, {"metric": 2.0})
    monkeypatch.setattr(os, "replace", real_replace)
    kept = checkpoints.list_checkpoints(tmp_path)
    assert [checkpoint_step(p) for p in kept] == [12]  # the old copy stands for the step
    assert (kept[0] / "weights.bin").read_text() == "old" and checkpoints.read_state(kept[0])["metric"] == 1.0
    # The next save of the run puts things right: the step is step-00000012 again, nothing set aside.
    write_checkpoint(tmp_path, 13, {"weights.bin": _text_writer("13")}, {})
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000012", "step-00000013"]
    assert (old / "weights.bin").read_text() == "old"
    # A replacement that completes leaves the new copy only.
    write_checkpoint(tmp_path, 13, {"weights.bin": _text_writer("13 again")}, {})
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000012", "step-00000013"]
    assert (tmp_path / "checkpoints" / "step-00000013" / "weights.bin").read_text() == "13 again"


def test_a_checkpoints_folder_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    # faultwalk: a read-only checkpoints folder failed the run with "OSError: [Errno 30] Read-only file
    # system" and a traceback: the folder was made before the write's error handling began.
    import errno

    write_checkpoint(tmp_path, 1, {"weights.bin": _text_writer("one")}, {})
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self.name.startswith(".staging-"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(DiskFull) as failed:
        write_checkpoint(tmp_path, 2, {"weights.bin": _text_writer("two")}, {})
    assert "Read-only file system" in str(failed.value) and "\n" not in str(failed.value)
    assert str(failed.value).endswith("the last complete checkpoint is still step-00000001. Once the disk can be "
                                      "written again, resume the run")


@pytest.mark.parametrize("saved", [3, None])
def test_every_failure_line_names_the_last_checkpoint_in_one_wording(tmp_path: Path, monkeypatch,
                                                                     saved: int | None) -> None:
    """A failed checkpoint, the free-space check, a failed final model and the run's end each built the
    phrase themselves: "...is still step-N", "...is step-N", and "no checkpoint was written" beside
    "no checkpoint was written yet"."""
    import errno

    from spark_trainer.jobs.finish import disk_full_finish
    from spark_trainer.training import diskspace
    from spark_trainer.training.side_work import final_write_failure

    if saved is not None:
        write_checkpoint(tmp_path, saved, {"weights.bin": _text_writer("one")}, {})
    phrase = "the last complete checkpoint is still step-00000003" if saved else "no checkpoint was written yet"

    def failing(path: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(DiskFull) as written:
        write_checkpoint(tmp_path, 5, {"weights.bin": failing}, {})
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 0)
    with pytest.raises(DiskFull) as checked:
        diskspace.check_free(tmp_path, 1)
    final = final_write_failure(OSError(errno.EIO, "Input/output error"), tmp_path / ".staging-final", tmp_path)
    ended = disk_full_finish(DiskFull(f"disk full at {tmp_path}: 0.0 MiB free; the sample was not written"), tmp_path)

    for line in (str(written.value), str(checked.value), str(final), ended.error):
        assert f"; {phrase}. " in line, line
