"""The lines a checkpoint's free-space check and failed write give: the need apart from the margin,
the last complete checkpoint named, and advice that fits the failure."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from spark_trainer import disk
from spark_trainer.errors import DiskFull
from spark_trainer.training import diskspace
from spark_trainer.training.checkpoints import checkpoint_dir, write_checkpoint

MiB = 2**20


def test_the_check_before_a_checkpoint_says_its_size_and_the_margin_apart_and_names_the_last_one(
        tmp_path: Path, monkeypatch) -> None:
    """It said "the checkpoint needs about 16.3 MiB" for a 0.3 MiB checkpoint (the 16 MiB kept free
    counted in) and named no checkpoint, though a resume starts from the last complete one."""
    run_dir = tmp_path / "run"
    write_checkpoint(run_dir, 5, {}, {})
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 10 * MiB)
    folder = checkpoint_dir(run_dir)

    with pytest.raises(DiskFull) as raised:
        diskspace.check_free(folder, int(0.3 * MiB))
    assert str(raised.value) == (
        f"disk full at {folder}: 10.0 MiB free, the checkpoint needs about 0.3 MiB, plus 16.0 MiB kept free for "
        "logs and the database; the last complete checkpoint is still step-00000005. Free some space, then "
        "resume the run")

    with pytest.raises(DiskFull) as raised:  # before the run's first checkpoint: nothing to name
        diskspace.check_free(tmp_path / "fresh", 0)
    assert str(raised.value) == (
        f"disk full at {tmp_path / 'fresh'}: 10.0 MiB free, less than the 16.0 MiB kept free for logs and the "
        "database; no checkpoint was written yet. Free some space, then resume the run")


def test_a_file_size_limit_is_not_told_to_free_space(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(disk, "file_size_limit", lambda: 1024000)
    target = tmp_path / ".staging-step-00000005" / "optimizer.pt"
    failure = diskspace.write_failure(OSError(errno.EFBIG, "File too large"), target, 0, "no checkpoint was written")
    assert str(failure) == (
        f"could not write {target}: the file size limit (1024000 bytes, `ulimit -f`) was reached; no checkpoint "
        "was written. Raise the file size limit (`ulimit -f`) of the shell or service that starts SparkTrainer, "
        "then resume the run")


def test_safetensors_saying_file_too_large_in_words_is_the_file_size_limit(tmp_path: Path, monkeypatch) -> None:
    """safetensors raises its own type, no errno: it read "I/O error writing ...: Error while serializing"."""
    from safetensors import SafetensorError

    monkeypatch.setattr(disk, "file_size_limit", lambda: 1500000)
    target = tmp_path / "trainable.safetensors"
    exc = SafetensorError("Error while serializing: I/O error: File too large (os error 27)")
    assert str(diskspace.write_failure(exc, target, 0, "the last complete checkpoint is still step-00000003")) == (
        f"could not write {target}: the file size limit (1500000 bytes, `ulimit -f`) was reached; the last complete "
        "checkpoint is still step-00000003. Raise the file size limit (`ulimit -f`) of the shell or service that "
        "starts SparkTrainer, then resume the run")


def test_a_file_too_large_for_its_filesystem_is_not_told_of_ulimit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(disk, "file_size_limit", lambda: None)
    target = tmp_path / "optimizer.pt"
    line = str(diskspace.write_failure(OSError(errno.EFBIG, "File too large"), target, 0, "no checkpoint was written"))
    assert line.startswith(f"I/O error writing {target}: File too large (") and "ulimit" not in line, line
    assert line.endswith("free); no checkpoint was written. Its filesystem holds no file this large: move the data "
                         "home to one that does, then resume the run"), line


@pytest.mark.parametrize(("code", "limit", "kind", "advice"), [
    (errno.ENOSPC, None, "full", "Free some space, then resume the run"),
    (errno.EFBIG, 1024000, "file_size_limit", "Raise the file size limit (`ulimit -f`) of the shell or service "
                                              "that starts SparkTrainer, then resume the run"),
    (errno.EFBIG, None, "too_large", "Its filesystem holds no file this large: move the data home to one that "
                                     "does, then resume the run"),
    (errno.EIO, None, "io_error", "Once the disk can be written again, resume the run"),
    (errno.EROFS, None, "read_only", "Once the disk can be written again, resume the run"),
    (errno.EACCES, None, "read_only", "Once the disk can be written again, resume the run"),
])
def test_a_failed_write_says_why_by_its_errno_and_the_advice_follows_the_kind(
        tmp_path: Path, monkeypatch, code: int, limit: int | None, kind: str, advice: str) -> None:
    """The advice was picked by reading the line's words; now the errno, met where the write failed,
    sets the error's kind, and the advice is the kind's."""
    monkeypatch.setattr(disk, "file_size_limit", lambda: limit)
    failure = diskspace.write_failure(OSError(code, "x"), tmp_path / "optimizer.pt", 0, "no checkpoint was written")
    assert failure.kind == kind
    assert diskspace.resume_advice(failure.kind) == advice
    assert str(failure).endswith(f"; no checkpoint was written. {advice}"), str(failure)
