"""Which processes have a data home open, told the same way on Linux, macOS and Windows.

Every open Store holds an OS lock (flock, or LockFileEx on Windows, through filelock) on its own
empty file in `HOME/.open/`, named after its pid. The OS drops the lock when the process ends,
however it ends, so a file whose lock can be taken was left by a process that is gone: the next
check removes it. A home the process cannot write (read-only media) goes without; nothing can be
moved out of it either.
"""

from __future__ import annotations

import os
import secrets
import weakref
from pathlib import Path

FOLDER = ".open"  # in the data home; never copied by a move (a copy's holders are not the home's)
SUFFIX = ".lock"


class Presence:
    """This process's mark that it has a home open; `release()` when the store closes."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd
        _HELD.add(self)

    def release(self) -> None:
        _HELD.discard(self)
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        os.close(fd)  # closing drops the lock
        try:
            self.path.unlink()
        except OSError:
            pass  # already removed by a check that found it unlocked, or the home went read-only


_HELD: weakref.WeakSet[Presence] = weakref.WeakSet()


def _forget_in_child() -> None:
    """A forked child (a DataLoader worker) shares its parent's lock; were it to keep it, a worker
    killed outright would still count as holding the home until its children ended. The child lets
    go of its copy (the parent's lock stays) and can no longer remove the parent's file."""
    for mark in list(_HELD):
        fd, mark._fd = mark._fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_forget_in_child)


def announce(root: Path) -> Presence | None:
    """Mark `root` as open by this process until `release()` (or until the process ends)."""
    from filelock import lock_descriptor

    folder = root / FOLDER
    for _ in range(3):
        path = folder / f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        try:
            folder.mkdir(exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        except OSError:
            return None
        try:
            locked = lock_descriptor(fd, blocking=False)
            # A check may have found the file before it was locked and removed it: the lock would then
            # be on a file nobody can see. Try again under a new name.
            if locked and _same_file(path, fd):
                return Presence(path, fd)
        except OSError:
            pass
        os.close(fd)
    return None


def holders(root: Path) -> set[int]:
    """The pids, other than this one, whose store has `root` open. Files left by processes that
    have ended are removed on the way."""
    from filelock import lock_descriptor, unlock_descriptor

    pids = set()
    try:
        found = sorted((root / FOLDER).glob(f"*{SUFFIX}"))
    except OSError:
        return pids
    for path in found:
        try:
            pid = int(path.name.split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue  # this process's own stores; and flock would refuse a second lock here anyway
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue  # removed since the listing
        try:
            free = lock_descriptor(fd, blocking=False)
        except OSError:
            free = False
        if not free:
            os.close(fd)
            pids.add(pid)
            continue
        # Left by a process that has ended. Removed while the lock is held: a process that had just
        # made this file and takes the lock after it is released finds the file gone (announce()'s
        # check) and makes another. Windows refuses to remove an open file: removed after closing
        # there, where an open file cannot be removed under its maker either.
        removed = _unlink(path)
        try:
            unlock_descriptor(fd)
        except OSError:
            pass  # closing lets go of it all the same
        finally:
            os.close(fd)
        if not removed:
            _unlink(path)
    return pids


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except OSError:
        return False
