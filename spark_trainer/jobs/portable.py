"""What job control does differently on POSIX and on Windows, in one place.

POSIX: a worker (a run's, an evaluation's) leads its own session and process group; a graceful stop
is its request file plus SIGTERM to the group (system shutdown sends SIGTERM too); a hard kill is
SIGKILL to the group.

Windows has no process groups to signal and no SIGTERM between processes (os.kill(pid, SIGTERM) is
TerminateProcess there: a hard kill, no checkpoint). A worker is started in a new process group with
no console window (`spawn_options`); a graceful stop is the request file alone, which every worker
polls (`watch`) on every platform; a hard kill ends the process tree through psutil, children first.

A lock file (one worker per run folder, jobs/run_lock.py) is held with flock on POSIX and with
msvcrt.locking of one byte on Windows; either goes when its file is closed or its process ends. A
claim's lock (jobs/claim_lock.py) must be shared with the worker it is passed to, as flock's are and
msvcrt's are not (`inheritable_locks`): Windows takes none.

Every POSIX-only name (os.killpg, os.getpgid, os.getuid, signal.SIGKILL, fcntl) is looked up when it is
called, never at import, so these modules import anywhere and choose their fallback where a name is
missing. The Windows paths are written for Windows and tested on Linux by simulating it
(tests/jobs/test_portable.py); they have not yet run on Windows.
"""

from __future__ import annotations

import getpass
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

CREATE_NEW_PROCESS_GROUP = 0x00000200  # subprocess's names for these exist only on Windows
CREATE_NO_WINDOW = 0x08000000
WATCH_S = 0.5  # how often a worker looks at its request file
KILL_WAIT_S = 5.0
# Windows: the byte of a lock file that is locked. A locked range cannot be read through another handle
# there, so it lies past the text a waiter reads (the holder's pid, at the start).
LOCK_OFFSET = 4096


def posix_signals() -> bool:
    """Whether processes here are stopped by signals to their process group (POSIX)."""
    return hasattr(os, "killpg") and hasattr(os, "getpgid") and hasattr(signal, "SIGKILL")


def spawn_options(*, detached: bool = True) -> dict[str, Any]:
    """subprocess.Popen's keyword arguments for a process of the app's own. `detached` (a worker, an
    evaluation): its own session and process group on POSIX, a new process group on Windows. On Windows
    no console window either: output goes to a log file, and a console shared with a terminal would end
    the worker when the terminal closes; a child of a console-less worker (a rank) would open one."""
    if sys.platform == "win32":
        return {"creationflags": (CREATE_NEW_PROCESS_GROUP if detached else 0) | CREATE_NO_WINDOW}
    return {"start_new_session": True} if detached else {}


def user_key() -> str:
    """This user, for names of per-user files in a shared folder: the uid, or the user name (Windows)."""
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    try:
        return getpass.getuser()  # %USERNAME% on Windows
    except (OSError, KeyError, ImportError, AttributeError):
        return "user"


def owned_by_me(path: Path) -> bool:
    """Whether this user owns `path` (no uid to compare on Windows, where the temp folder is per user)."""
    getuid = getattr(os, "getuid", None)
    return getuid is None or Path(path).stat().st_uid == getuid()


def _module(name: str) -> Any:
    """The standard library module `name`, or None where this platform has none (fcntl on Windows,
    msvcrt elsewhere)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def try_lock(fd: int) -> bool | None:
    """Take an exclusive lock on the open file `fd` if it is free, without waiting: True when taken, False
    when another open file holds it (in this process or another), None when this platform or filesystem
    cannot lock. The lock is the open file's: closing it, or the process ending, releases it."""
    fcntl, msvcrt = _module("fcntl"), _module("msvcrt")
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        elif msvcrt is not None:
            os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            return None
        return True
    except (BlockingIOError, PermissionError):  # flock: EWOULDBLOCK; msvcrt: EACCES
        return False
    except OSError:
        return None


def inheritable_locks() -> bool:
    """Whether a lock `try_lock` takes stays held by a child process its descriptor is passed to, until
    every process holding that descriptor has closed it or ended (flock's are the open file's); Windows'
    msvcrt locks belong to the process that took them."""
    return _module("fcntl") is not None


def unlock(fd: int) -> None:
    """Release `try_lock`'s lock before `fd` is closed. Windows frees the locks of a closed file only
    "when resources allow", and a worker that takes over at once must find it free; flock's goes with
    the close."""
    msvcrt = _module("msvcrt")
    if _module("fcntl") is None and msvcrt is not None:
        try:
            os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass  # not held: closing is all there is


def _ended(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _tree(pid: int) -> list[psutil.Process]:
    """`pid` and every process below it, the descendants first (none if it is gone)."""
    try:
        leader = psutil.Process(pid)
        return [*leader.children(recursive=True), leader]
    except psutil.Error:
        return []


class Group:
    """A worker and the processes it started (ranks, data loaders): its process group on POSIX, else
    its process tree, remembered from when the group was taken so that a child left behind by a
    leader that exited is still found."""

    def __init__(self, pid: int, pgid: int | None, members: list[psutil.Process]) -> None:
        self.pid, self.pgid, self.members = pid, pgid, members

    @classmethod
    def of(cls, pid: int) -> Group | None:
        """The group of live process `pid`, or None if it is gone."""
        if posix_signals():
            try:
                return cls(pid, os.getpgid(pid), [])
            except ProcessLookupError:
                return None
        members = _tree(pid)
        return cls(pid, None, members) if members else None

    def ask_to_stop(self) -> bool:
        """SIGTERM to the group on POSIX; elsewhere nothing (the request file asks). False if it is gone."""
        if self.pgid is None:
            return True
        try:
            os.killpg(self.pgid, signal.SIGTERM)
            return True
        except ProcessLookupError:
            return False

    def kill(self) -> None:
        """Kill every process of the group that is left: SIGKILL to the group on POSIX, else each
        process of the tree, the descendants first (a leader killed first could start another)."""
        if self.pgid is not None:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return
        known = {p.pid: p for p in self.members}
        for proc in _tree(self.pid):  # children started since the group was taken
            known.setdefault(proc.pid, proc)
        doomed = [p for p in known.values() if p.pid != self.pid] + [p for p in known.values() if p.pid == self.pid]
        for proc in doomed:
            if not _ended(proc):
                try:
                    proc.kill()  # psutil checks the pid still names the same process
                except psutil.Error:
                    pass
        deadline = time.monotonic() + KILL_WAIT_S
        while any(not _ended(p) for p in doomed) and time.monotonic() < deadline:
            time.sleep(0.05)


def in_group(pid: int, pids: Iterable[int]) -> bool:
    """Whether any of `pids` is `pid` or in its group: its process group on POSIX, its tree elsewhere."""
    pids = set(pids)
    if pid in pids:
        return True
    if posix_signals():
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return False
        for other in pids:
            try:
                if os.getpgid(other) == group:
                    return True
            except ProcessLookupError:
                continue
        return False
    return any(p.pid in pids for p in _tree(pid))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


def watch(path: Path, on_request: Callable[[], None], *, until: Callable[[], bool] = lambda: False,
          every: float = WATCH_S) -> threading.Event:
    """Call `on_request()` once, from a daemon thread, when the file `path` is written: when it
    appears or changes after the watch began, or was written since this process started (a request
    made while it was starting up). A file left from before (a request to an earlier worker of the
    run) is not one. Polls every `every` seconds until `until()` is true or the returned event is set."""
    path = Path(path)
    first = _signature(path)
    try:
        born_ns = int(psutil.Process().create_time() * 1e9)
    except psutil.Error:
        born_ns = time.time_ns()
    done = threading.Event()

    def loop() -> None:
        while not done.is_set() and not until():
            now = _signature(path)
            if now is not None and (now != first or now[1] >= born_ns):
                on_request()
                return
            done.wait(every)

    threading.Thread(target=loop, daemon=True, name=f"watch {path.name}").start()
    return done
