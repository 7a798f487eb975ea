"""How a worker words a run's end on a full or failing disk (`disk_full_finish`): one line, each
part said once, with advice that fits the failure."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from spark_trainer import disk
from spark_trainer.errors import DiskFault, DiskFull
from spark_trainer.jobs.finish import disk_full_finish
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import disk_error
from spark_trainer.training import diskspace
from spark_trainer.training.checkpoints import write_checkpoint


def test_a_file_size_limit_says_no_checkpoint_once_and_to_raise_the_limit(tmp_path: Path, monkeypatch) -> None:
    """Under `ulimit -f` it said "...was reached; no checkpoint was written; no checkpoint was written
    yet. Free some space, then resume the run": twice the same, and space freed lifts no limit."""
    monkeypatch.setattr(disk, "file_size_limit", lambda: 1024000)
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
                     "checkpoint is still step-00000010. Free some space, then resume the run")


def _sample_write_failure(run_dir: Path, code: int) -> DiskFull:
    def write(path: Path) -> None:
        raise OSError(code, os.strerror(code))

    with pytest.raises(DiskFull) as raised:
        disk.write_whole(run_dir / "samples" / "step-1.json", write, "the sample was not written")
    return raised.value


def test_another_write_hitting_the_file_size_limit_is_told_to_raise_it(tmp_path: Path, monkeypatch) -> None:
    """A sample or metric write under `ulimit -f` ("I/O error writing <file>: File too large") was told to
    free some space."""
    monkeypatch.setattr(disk, "file_size_limit", lambda: 1024000)
    error = disk_full_finish(_sample_write_failure(tmp_path, errno.EFBIG), tmp_path).error
    assert error.startswith(f"I/O error writing {tmp_path / 'samples' / 'step-1.json'}: File too large ("), error
    assert error.endswith("; no checkpoint was written yet. Raise the file size limit (`ulimit -f`) of the shell or "
                          "service that starts SparkTrainer, then resume the run"), error


def test_a_sample_too_large_for_its_filesystem_is_not_told_of_ulimit(tmp_path: Path, monkeypatch) -> None:
    """EFBIG with no `ulimit -f` (FAT32's 4 GiB): its words "File too large" got the `ulimit -f` advice."""
    monkeypatch.setattr(disk, "file_size_limit", lambda: None)
    error = disk_full_finish(_sample_write_failure(tmp_path, errno.EFBIG), tmp_path).error
    assert error.endswith("; no checkpoint was written yet. Its filesystem holds no file this large: move the data "
                          "home to one that does, then resume the run"), error


class _SQLiteIOError(sqlite3.OperationalError):
    sqlite_errorcode = 778  # SQLITE_IOERR_WRITE: how SQLite reports a write past `ulimit -f` (EFBIG)


def test_a_metric_flush_past_the_file_size_limit_is_told_to_raise_it(tmp_path: Path, monkeypatch) -> None:
    """The database's own "disk I/O error" under `ulimit -f` was told to wait until the disk can be
    written again: nothing is wrong with the disk."""
    db = tmp_path / "sparktrainer.db"
    db.write_bytes(b"\0" * 600_000)
    monkeypatch.setattr(disk, "file_size_limit", lambda: 1024000)
    failure = disk_error(db, _SQLiteIOError("disk I/O error"))
    assert failure is not None and failure.kind == DiskFault.FILE_SIZE_LIMIT
    error = disk_full_finish(failure, tmp_path).error
    assert error.startswith(f"cannot write the database {db}: the file size limit (1024000 bytes, `ulimit -f`) is too "
                            "small for it ("), error
    assert error.endswith("; no checkpoint was written yet. Raise the file size limit (`ulimit -f`) of the shell or "
                          "service that starts SparkTrainer, then resume the run"), error


@pytest.mark.parametrize(("kind", "advice"), [
    (DiskFault.FULL, "Free some space, then resume the run"),
    (DiskFault.FILE_SIZE_LIMIT, "Raise the file size limit (`ulimit -f`) of the shell or service that starts "
                                "SparkTrainer, then resume the run"),
    (DiskFault.TOO_LARGE, "Its filesystem holds no file this large: move the data home to one that does, then "
                          "resume the run"),
    (DiskFault.IO_ERROR, "Once the disk can be written again, resume the run"),
    (DiskFault.READ_ONLY, "Once the disk can be written again, resume the run"),
])
def test_the_advice_is_the_kinds_whatever_the_line_says(tmp_path: Path, kind: DiskFault, advice: str) -> None:
    """One line for every kind, worded alike: only the kind picks the advice."""
    error = disk_full_finish(DiskFull(f"could not write {tmp_path / 'x'}: I/O error", kind), tmp_path).error
    assert error == f"could not write {tmp_path / 'x'}: I/O error; no checkpoint was written yet. {advice}"


def test_a_run_of_one_step_completed_1_step() -> None:
    """It said "completed 1 steps" (a fault walk with max_steps 1)."""
    from spark_trainer.jobs.finish import outcome_finish
    from spark_trainer.training.reporting import Commands, TrainOutcome

    assert outcome_finish(TrainOutcome("completed", 1, 1), Commands()).reason == "completed 1 step"
    assert outcome_finish(TrainOutcome("completed", 20, 20), Commands()).reason == "completed 20 steps"
