"""Free space, and one line for a write that failed for lack of it (or on an I/O error).

Shared by the store (a SQLite write that hit SQLITE_FULL / SQLITE_IOERR), ingestion (copying files
into the data home) and the training engine (checkpoints, see training/diskspace.py), so that every
one of them says "disk full at <folder>: N MB free ..." instead of its library's own words.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

# errno values that mean "no room": the disk, a quota, or the per-file size limit (`ulimit -f`).
FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
IO_ERRNOS = frozenset({errno.EIO, errno.EFBIG, errno.EROFS})


def gb(n: float) -> str:
    """Bytes as a short human figure: GB from 256 MB up, else MB."""
    return f"{n / 2**30:.2f} GB" if n >= 2**28 else f"{n / 2**20:.1f} MB"


def nearest_existing(path: Path) -> Path:
    """`path`, or its nearest parent that exists (a folder about to be created lives there)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing parent)."""
    return shutil.disk_usage(nearest_existing(path)).free


def same_filesystem(a: Path, b: Path) -> bool:
    """Whether `a` and `b` (or their nearest existing parents) are on one filesystem."""
    return os.stat(nearest_existing(a)).st_dev == os.stat(nearest_existing(b)).st_dev


def folder_bytes(folder: Path) -> int:
    """The size of the files under `folder` (0 when it cannot be read)."""
    try:
        return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    except OSError:
        return 0


def is_full(exc: BaseException) -> bool:
    """True for an OSError meaning no space (ENOSPC, EDQUOT)."""
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def is_write_error(exc: BaseException) -> bool:
    """True for an OSError a full or failing disk causes (what `describe` turns into one line)."""
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS | IO_ERRNOS


def describe(exc: BaseException, folder: Path, *, target: Path | None = None, needs: str = "") -> str:
    """One line for a failed write under `folder`: "disk full at <folder>: N MB free[, <needs>]" for
    no space, else "I/O error writing <target>: <reason> (N MB free)". `needs` is e.g.
    "the dataset needs about 3.1 MB"."""
    try:
        free = gb(free_bytes(folder))
    except OSError:
        free = "unknown space"
    if is_full(exc):
        return f"disk full at {folder}: {free} free" + (f", {needs}" if needs else "")
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    return f"I/O error writing {target or getattr(exc, 'filename', None) or folder}: {reason} ({free} free)"
