"""A stand-in for Windows' `msvcrt` module, for the `windows_like` fixture: `locking` only, with
Windows' semantics, built on Linux open-file-description locks. SIMULATED: this never runs on
Windows, and the code it stands in for has not run there either.

What it keeps of `msvcrt.locking(fd, mode, nbytes)` (the C runtime's `_locking`, over LockFile):
- it locks `nbytes` bytes from the file's current position, which it does not move; a range past
  the end of the file can be locked;
- a lock belongs to the open file (the handle), not to the process: a second `os.open` of the same
  file in the same process is refused the range, as another process is;
- LK_NBLCK takes the range or fails at once with EACCES (PermissionError); LK_UNLCK releases it
  (EACCES when it was not locked); closing the file, or the process ending, releases it.
What it leaves out: LK_LOCK's ten one-second retries, read locks, LK_UNLCK's refusal of a range that
another handle holds, and that on Windows a locked range cannot be read or written through any other
handle (callers lock a byte nobody reads). Its locks are not flock's: a worker this process spawns (a
Linux process, locking with flock) and this process do not exclude each other.
"""

from __future__ import annotations

import errno
import os
import struct
import types
from typing import Any

LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4


def make(fcntl: Any) -> types.ModuleType:
    """The fake module, over the real `fcntl` (taken before the fixture hides it)."""
    module = types.ModuleType("msvcrt", __doc__)
    module.LK_UNLCK, module.LK_LOCK, module.LK_NBLCK, module.LK_RLCK, module.LK_NBRLCK = (
        LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK)

    def locking(fd: int, mode: int, nbytes: int) -> None:
        if mode not in (LK_NBLCK, LK_UNLCK):
            raise NotImplementedError(f"the simulated msvcrt.locking has no mode {mode}")
        start = os.lseek(fd, 0, os.SEEK_CUR)
        if mode == LK_UNLCK and not _held(fcntl, fd, start, nbytes):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        kind = fcntl.F_WRLCK if mode == LK_NBLCK else fcntl.F_UNLCK
        # struct flock on 64-bit Linux: l_type, l_whence (short), l_start, l_len (off_t), l_pid (0 for OFD locks)
        request = struct.pack("hhqqi4x", kind, os.SEEK_SET, start, nbytes, 0)
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)
        except BlockingIOError:  # another open file holds it: _locking says EACCES
            raise OSError(errno.EACCES, os.strerror(errno.EACCES)) from None

    module.locking = locking
    return module


def _held(fcntl: Any, fd: int, start: int, nbytes: int) -> bool:
    """Whether this open file holds the range: F_OFD_GETLK reports no conflict with our own lock, so
    ask through a second open file of the same path (found via /proc)."""
    other = os.open(os.readlink(f"/proc/self/fd/{fd}"), os.O_RDWR)
    try:
        probe = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, start, nbytes, 0)
        answer = fcntl.fcntl(other, fcntl.F_OFD_GETLK, probe)
        return struct.unpack("hhqqi4x", answer)[0] != fcntl.F_UNLCK
    finally:
        os.close(other)
