"""Free space before writing, and one clear message when a write fails for lack of it.

A checkpoint that hits a full disk used to fail with "[enforce fail at inline_container.cc:672]
unexpected pos". Now free space is checked before a run starts and before each checkpoint (against
the size of the last checkpoint, or an estimate from the trainable parameters), and a write that
fails anyway is reported as "disk full at <path>: N GiB free, the checkpoint needs about M GiB" (or
the I/O error), while the previous checkpoint stays the latest complete one.
"""

from __future__ import annotations

import re
from pathlib import Path

from spark_trainer import disk
from spark_trainer.disk import (
    fault_of,
    folder_bytes,
    free_bytes,
    gb,
    is_full,
    is_too_large,
    is_write_error,
)
from spark_trainer.errors import DiskFault, DiskFull

# Room kept free besides the checkpoint itself: state.json, logs, the database's WAL.
MARGIN_BYTES = 16 * 2**20
FREE_SPACE = "Free some space, then resume the run"
# What to do before `run resume`, by why the write failed: a file-size limit is raised, not made room
# for; a disk that fails (read-only, I/O errors) is not full.
_ADVICE = {
    DiskFault.FULL: FREE_SPACE,
    DiskFault.FILE_SIZE_LIMIT: "Raise the file size limit (`ulimit -f`) of the shell or service that starts "
                               "SparkTrainer, then resume the run",
    DiskFault.TOO_LARGE: "Its filesystem holds no file this large: move the data home to one that does, then "
                         "resume the run",
    DiskFault.IO_ERROR: "Once the disk can be written again, resume the run",
    DiskFault.READ_ONLY: "Once the disk can be written again, resume the run",
}
__all__ = ["check_before_run", "check_free", "estimate_checkpoint_bytes", "folder_bytes", "free_bytes", "gb",
           "resume_advice", "write_failure"]


def estimate_checkpoint_bytes(trainable_numel: int) -> int:
    """fp32 weights plus Adam's two moments, plus a small margin for the rest."""
    return trainable_numel * 4 * 3 + 2**20


def check_free(folder: Path, needed: int, what: str = "the checkpoint", keeps: str | None = None) -> None:
    """Raise DiskFull unless `folder`'s filesystem has `needed` bytes (plus a margin) free. The line says
    the need and the margin apart (a 0.3 MiB checkpoint read "needs about 16.3 MiB"), and `keeps` (by
    default the run's last complete checkpoint, `folder` being a run's folder or its checkpoints/)."""
    free = free_bytes(folder)
    if free < needed + MARGIN_BYTES:
        margin = f"{gb(MARGIN_BYTES)} kept free for logs and the database"
        needs = f"{what} needs about {gb(needed)}, plus {margin}" if needed else f"less than the {margin}"
        raise DiskFull(f"disk full at {folder}: {gb(free)} free, {needs}; {keeps or _kept(folder)}. "
                       f"{FREE_SPACE}")


def _kept(folder: Path) -> str:
    """Which checkpoint a resume starts from, for a run's folder or its checkpoints/ folder."""
    from spark_trainer.training.checkpoints import kept_line, latest_checkpoint

    return kept_line(latest_checkpoint(folder.parent if folder.name == "checkpoints" else folder))


def resume_advice(kind: DiskFault) -> str:
    """What to do before `run resume` after a write that failed for `kind` (a DiskFull's)."""
    return _ADVICE[DiskFault(kind)]


def check_before_run(run_dir: Path, params: list) -> None:
    """Before training starts: room for one checkpoint of these trainable parameters."""
    check_free(Path(run_dir), estimate_checkpoint_bytes(sum(p.numel() for p in params)))


# A failing disk as a library words it in its own exception type: safetensors' "I/O error: Read-only
# file system (os error 30)" (EIO 5, EFBIG 27, EROFS 30).
_FAILING_WORDS = re.compile(r"\(os error (?:5|27|30)\)")


def is_write_failure(exc: BaseException) -> bool:
    """A write that failed for its disk (full, failing, read-only, past a size limit), whichever library
    raised it; not a bug of the writer's, which keeps its own error."""
    return is_write_error(exc) or (isinstance(exc, Exception) and _FAILING_WORDS.search(str(exc)) is not None)


def write_failure(exc: BaseException, target: Path, needed: int, keeps: str, what: str = "the checkpoint") -> DiskFull:
    """The error to raise for a failed write of `target` (`keeps`: what is still intact; `needed`: the
    bytes `what` needs, 0 when not known): one line, ending with what to do before resuming."""
    free = free_bytes(target.parent)
    if is_full(exc) or free < needed:  # safetensors says ENOSPC in words, in its own exception type
        needs = f", {what} needs about {gb(needed)}" if needed else ""
        return DiskFull(f"disk full at {target.parent}: {gb(free)} free{needs}; {keeps}. {FREE_SPACE}")
    limit = disk.file_size_limit()  # through the module: tests set a limit there, for fault_of too
    too_large = is_too_large(exc)
    if limit is not None and (too_large or (target.exists() and target.stat().st_size >= limit - 4096)):
        line = f"could not write {target}: the file size limit ({limit} bytes, `ulimit -f`) was reached; {keeps}"
        return DiskFull(f"{line}. {resume_advice(DiskFault.FILE_SIZE_LIMIT)}", DiskFault.FILE_SIZE_LIMIT)
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    # EFBIG with no `ulimit -f`: the filesystem's own largest file (FAT32's 4 GiB)
    kind = DiskFault.TOO_LARGE if too_large else fault_of(exc)
    return DiskFull(f"I/O error writing {target}: {reason} ({gb(free)} free); {keeps}. {resume_advice(kind)}", kind)
