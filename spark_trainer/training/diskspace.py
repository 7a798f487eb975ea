"""Free space before writing, and one clear message when a write fails for lack of it.

A checkpoint that hits a full disk used to fail with "[enforce fail at inline_container.cc:672]
unexpected pos". Now free space is checked before a run starts and before each checkpoint (against
the size of the last checkpoint, or an estimate from the trainable parameters), and a write that
fails anyway is reported as "disk full at <path>: N GiB free, the checkpoint needs about M GiB" (or
the I/O error), while the previous checkpoint stays the latest complete one.
"""

from __future__ import annotations

import errno
from pathlib import Path

from spark_trainer.disk import folder_bytes, free_bytes, gb, is_full
from spark_trainer.errors import DiskFull

# Room kept free besides the checkpoint itself: state.json, logs, the database's WAL.
MARGIN_BYTES = 16 * 2**20
__all__ = ["check_before_run", "check_free", "estimate_checkpoint_bytes", "folder_bytes", "free_bytes", "gb",
           "write_failure"]


def estimate_checkpoint_bytes(trainable_numel: int) -> int:
    """fp32 weights plus Adam's two moments, plus a small margin for the rest."""
    return trainable_numel * 4 * 3 + 2**20


def check_free(folder: Path, needed: int, what: str = "the checkpoint") -> None:
    """Raise DiskFull unless `folder`'s filesystem has `needed` bytes (plus a margin) free."""
    free = free_bytes(folder)
    if free < needed + MARGIN_BYTES:
        raise DiskFull(f"disk full at {folder}: {gb(free)} free, {what} needs about {gb(needed + MARGIN_BYTES)}; "
                       "free some space, then resume the run")


def check_before_run(run_dir: Path, params: list) -> None:
    """Before training starts: room for one checkpoint of these trainable parameters."""
    check_free(Path(run_dir), estimate_checkpoint_bytes(sum(p.numel() for p in params)))


def _file_size_limit() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def write_failure(exc: BaseException, target: Path, needed: int, keeps: str, what: str = "the checkpoint") -> DiskFull:
    """The error to raise for a failed write of `target` (`keeps`: what is still intact; `needed`: the
    bytes `what` needs, 0 when not known)."""
    free = free_bytes(target.parent)
    code = getattr(exc, "errno", None)
    if is_full(exc) or free < needed:  # safetensors says ENOSPC in words, in its own exception type
        needs = f", {what} needs about {gb(needed)}" if needed else ""
        return DiskFull(f"disk full at {target.parent}: {gb(free)} free{needs}; {keeps}. Free some space, then resume the run")
    limit = _file_size_limit()
    if code == errno.EFBIG or (limit is not None and target.exists() and target.stat().st_size >= limit - 4096):
        return DiskFull(f"could not write {target}: the file size limit ({limit} bytes, `ulimit -f`) was reached; "
                        f"{keeps}")
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    return DiskFull(f"I/O error writing {target}: {reason} ({gb(free)} free); {keeps}")
