"""A little disk space each worker holds back, so a run on a full disk can still say so.

When the disk fills during training, the write that fails (a metric batch, a checkpoint) is not
the last one the worker must make: the run's outcome ("failed: disk full at ...") goes to the
database and a line to the log. On a disk with no byte free those would fail too, and the run
would only be noticed later as a dead worker. So the worker allocates `runs/<id>/.space-reserve`
when it starts and deletes it before recording how the run ended; reconcile deletes the file of a
worker that died without doing so. Where the database sits on another filesystem than the run's
folder the reserve cannot help it; the worker then logs the outcome and reconcile records it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 2 * 2**20  # a few SQLite WAL frames (16 KiB pages) and log lines, with room to spare


def hold(run_dir: Path, size: int = RESERVE_BYTES) -> bool:
    """Allocate the reserve file (really allocated, not sparse); False if there was no room for it."""
    path = Path(run_dir) / RESERVE_NAME
    try:
        if path.is_file() and getattr(path.stat(), "st_blocks", 0) * 512 >= size:
            return True
        with open(path, "wb") as fh:
            try:
                os.posix_fallocate(fh.fileno(), 0, size)
            except (AttributeError, OSError) as exc:  # Windows, or a filesystem without fallocate
                if isinstance(exc, OSError) and exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                fh.write(b"\0" * size)
        return True
    except OSError:
        path.unlink(missing_ok=True)
        return False


def release(run_dir: Path) -> bool:
    """Delete the reserve file; True if there was one."""
    try:
        (Path(run_dir) / RESERVE_NAME).unlink()
        return True
    except OSError:  # not there (released already), or the folder is gone
        return False
