"""Free space, and one line for a write that failed for lack of it (or on an I/O error).

Shared by the store (a SQLite write that hit SQLITE_FULL / SQLITE_IOERR), ingestion (copying files
into the data home) and the training engine (checkpoints, see training/diskspace.py), so that every
one of them says "disk full at <folder>: N MB free ..." instead of its library's own words.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

# errno values that mean "no room": the disk, a quota, or the per-file size limit (`ulimit -f`).
FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
IO_ERRNOS = frozenset({errno.EIO, errno.EFBIG, errno.EROFS})


def gb(n: float) -> str:
    """Bytes as a short human figure: GB from 256 MB up, else MB."""
    return f"{n / 2**30:.2f} GB" if n >= 2**28 else f"{n / 2**20:.1f} MB"


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


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
