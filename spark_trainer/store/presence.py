"""Which processes have a data home open, told the same way on Linux, macOS and Windows.

Every open Store holds an OS lock (flock, or LockFileEx on Windows, through filelock) on its own
empty file in `HOME/.open/`, named `<pid>@<host>-<random>.lock`. The OS drops the lock when the
process ends, however it ends, so a file of this host whose lock can be taken was left by a process
that is gone (killed outright: the OOM killer, a worker killed after its grace, power loss): every
open, and every check of who holds the home, removes those. A file made on another host is never
removed here (its lock may not reach this machine: a network share). An older version's name,
`<pid>-<random>.lock`, says no host: it goes only when its lock is free and no process on this host
has that pid. A home the process cannot write (read-only media) goes without; nothing can be moved
out of it either.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import weakref
from pathlib import Path

FOLDER = ".open"  # in the data home; never copied by a move (a copy's holders are not the home's)
SUFFIX = ".lock"
_NAME = re.compile(r"(\d+)(?:@([^@/]+))?-[0-9a-f]+" + re.escape(SUFFIX))  # pid, host (None: older name)


def host_tag() -> str:
    """This host's name as file names made here carry it (presence marks, pins, stagings): its '-' and
    '@' written '_', so a name reads back around them."""
    return socket.gethostname().replace("-", "_").replace("@", "_") or "host"


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
    _check(root)  # the marks of processes of this host that have ended go now, not at some later move
    for _ in range(3):
        path = folder / f"{os.getpid()}@{host_tag()}-{secrets.token_hex(4)}{SUFFIX}"
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
    """The pids, other than this one, whose store has `root` open. Files left by processes of this host
    that have ended are removed on the way."""
    return _check(root)


def _check(root: Path) -> set[int]:
    from filelock import lock_descriptor

    pids: set[int] = set()
    try:
        found = sorted((root / FOLDER).glob(f"*{SUFFIX}"))
    except OSError:
        return pids
    here = host_tag()
    for path in found:
        name = _NAME.fullmatch(path.name)
        if name is None:
            continue
        pid, host = int(name.group(1)), name.group(2)
        if pid == os.getpid() and host in (None, here):
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
        if host not in (None, here) or (host is None and _pid_here(pid)):
            # Another host's (its lock may not reach here), or an older name whose pid runs here (it may
            # be another host's too): never judged by a lock this host could take.
            _let_go(fd)
            continue
        # Left by a process that has ended. Removed while the lock is held: a process that had just
        # made this file and takes the lock after it is released finds the file gone (announce()'s
        # check) and makes another. Windows refuses to remove an open file: removed after closing
        # there, where an open file cannot be removed under its maker either.
        removed = _unlink(path)
        _let_go(fd)
        if not removed:
            _unlink(path)
    return pids


def _let_go(fd: int) -> None:
    """Unlock and close a mark's descriptor that a check locked."""
    from filelock import unlock_descriptor

    try:
        unlock_descriptor(fd)
    except OSError:
        pass  # closing lets go of it all the same
    finally:
        os.close(fd)


def _pid_here(pid: int) -> bool:
    import psutil

    return psutil.pid_exists(pid)


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
