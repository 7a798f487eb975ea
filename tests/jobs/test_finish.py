"""How a worker words a run's end on a full or failing disk (`disk_full_finish`): one line, each
part said once, with advice that fits the failure."""

from __future__ import annotations

import errno
from pathlib import Path

from spark_trainer.errors import DiskFull
from spark_trainer.jobs.finish import disk_full_finish
from spark_trainer.store.entities import RunStatus
from spark_trainer.training import diskspace
from spark_trainer.training.checkpoints import write_checkpoint


def test_a_file_size_limit_says_no_checkpoint_once_and_to_raise_the_limit(tmp_path: Path, monkeypatch) -> None:
    """Under `ulimit -f` it said "...was reached; no checkpoint was written; no checkpoint was written
    yet. Free some space, then resume the run": twice the same, and space freed lifts no limit."""
    monkeypatch.setattr(diskspace, "_file_size_limit", lambda: 1024000)
    target = tmp_path / "checkpoints" / ".staging-step-00000005" / "optimizer.pt"
    failure = diskspace.write_failure(OSError(errno.EFBIG, "File too large"), target, 0, "no checkpoint was written")

    finish = disk_full_finish(failure, tmp_path)
    assert finish.status == RunStatus.FAILED
    assert finish.error == (
        f"could not write {target}: the file size limit (1024000 bytes, `ulimit -f`) was reached; no checkpoint "
        "was written. Raise the file size limit (`ulimit -f`) of the shell or service that starts SparkTrainer, "
        "then resume the run")


def test_an_io_error_names_the_last_checkpoint_once(tmp_path: Path) -> None:
    """A read-only or failing disk: "...; the last complete checkpoint is still step-X" was followed by
    "; the last complete checkpoint is step-X. Free some space", for a disk that is not full."""
    write_checkpoint(tmp_path, 35, {}, {})
    target = tmp_path / "checkpoints" / ".staging-step-00000040" / "trainable.safetensors"
    failure = diskspace.write_failure(OSError(errno.EROFS, "Read-only file system"), target, 0,
                                      "the last complete checkpoint is still step-00000035")

    error = disk_full_finish(failure, tmp_path).error
    assert error.startswith(f"I/O error writing {target}: Read-only file system (") and "\n" not in error, error
    assert error.endswith(" free); the last complete checkpoint is still step-00000035. Once the disk can be "
                          "written again, resume the run"), error


def test_a_line_that_names_no_checkpoint_gets_the_last_one_and_the_advice(tmp_path: Path) -> None:
    write_checkpoint(tmp_path, 10, {}, {})
    error = disk_full_finish(DiskFull(f"disk full at {tmp_path}: 0.0 MiB free; the sample was not written."),
                             tmp_path).error
    assert error == (f"disk full at {tmp_path}: 0.0 MiB free; the sample was not written; the last complete "
                     "checkpoint is step-00000010. Free some space, then resume the run")


def test_another_write_hitting_the_file_size_limit_is_told_to_raise_it(tmp_path: Path) -> None:
    """A sample or metric write under `ulimit -f` ("I/O error writing <file>: File too large") was told to
    free some space."""
    error = disk_full_finish(DiskFull(f"I/O error writing {tmp_path / 'samples'}: File too large (3.0 GiB free); "
                                      "the sample was not written"), tmp_path).error
    assert error.endswith("; no checkpoint was written yet. Raise the file size limit (`ulimit -f`) of the shell or "
                          "service that starts SparkTrainer, then resume the run"), error
