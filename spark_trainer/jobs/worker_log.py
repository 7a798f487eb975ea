"""The worker's stdout/stderr (its `worker.log`) on a disk that is full or failing.

A worker's log is a diagnostic side channel: losing some of its lines must not kill hours of
training. So the worker's `sys.stdout` / `sys.stderr` are replaced by streams that write straight
to the log's file descriptor and, when a write fails with ENOSPC, EDQUOT, EFBIG or EIO, drop the
line instead of raising out of a `print` in the middle of a step. The things that do matter (the
metric rows, checkpoints, the run's outcome) fail cleanly on their own when the disk is really
full. The first dropped line is reported once as a run event (by the worker's heartbeat, so no
database write happens inside a `print`), and when the log can be written again it gets a line
saying how many lines were lost and why.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path

from spark_trainer import disk


class LogHealth:
    """What the worker's log streams share: how many lines were dropped, and why."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.RLock()  # reentrant: the SIGTERM handler prints, maybe inside a print
        self.dropped = 0  # lines dropped since the log was last writable
        self.total_dropped = 0
        self.error: str | None = None  # the first failure, as one line
        self.partial = False  # a dropped write that did not end its line yet
        self._unreported: str | None = None

    def failed(self, exc: OSError, text: str) -> None:
        """Count what was lost in lines: `print` writes a line's text and its newline apart."""
        lines = text.count("\n")
        self.partial = not text.endswith("\n")
        self.dropped += lines
        self.total_dropped += lines
        if self.error is None:
            self.error = disk.describe(exc, self.folder)
            self._unreported = self.error

    def pending_report(self) -> str | None:
        """The event to record once (None when there is nothing new); call `reported()` after recording it."""
        with self.lock:
            if self._unreported is None:
                return None
            return (f"the run's log could not be written ({self._unreported}); training continues and log "
                    "lines are dropped until there is room")

    def reported(self) -> None:
        with self.lock:
            self._unreported = None


class LogStream(io.TextIOBase):
    """A text stream onto a file descriptor that never raises for a full or failing disk."""

    def __init__(self, fd: int, health: LogHealth, name: str) -> None:
        super().__init__()
        self._fd, self.health, self._name = fd, health, name

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def flush(self) -> None:
        pass  # every write goes straight to the descriptor

    def write(self, text: str) -> int:
        data = text.encode("utf-8", "backslashreplace")
        health = self.health
        with health.lock:
            if health.dropped or health.partial:
                lost = max(1, health.dropped)
                note = f"\n[{lost} log line{'s' if lost != 1 else ''} could not be written: {health.error}]\n"
                if self._write_all(note.encode()) is None:
                    health.dropped, health.partial = 0, False
            failure = self._write_all(data)
            if failure is not None:
                health.failed(failure, text)
        return len(text)

    def _write_all(self, data: bytes) -> OSError | None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except InterruptedError:
                continue
            except OSError as exc:
                if not disk.is_write_error(exc):
                    raise
                return exc
            view = view[written:]
        return None


def _log_folder(fd: int) -> Path:
    """The folder of the file `fd` writes to (the run's folder for a spawned worker)."""
    try:
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if target.is_absolute() and target.parent.is_dir():
            return target.parent
    except OSError:
        pass
    return Path.cwd()


def install() -> tuple[LogHealth, tuple[object, object]]:
    """Replace sys.stdout and sys.stderr with `LogStream`s; returns the shared health and the old
    streams (for `restore`)."""
    old = (sys.stdout, sys.stderr)
    for stream in old:
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    health = LogHealth(_log_folder(1))
    sys.stdout = LogStream(1, health, "<stdout>")
    sys.stderr = LogStream(2, health, "<stderr>")
    return health, old


def restore(old: tuple[object, object]) -> None:
    sys.stdout, sys.stderr = old  # type: ignore[assignment]


def writes_to(log_path: Path) -> bool:
    """Whether this process's stdout is the file `log_path` (as for a worker that `spawn_worker` started)."""
    try:
        mine, there = os.fstat(1), os.stat(log_path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def reattach_if_deleted(log_path: Path, *, announce: bool = True) -> bool:
    """If the log file the worker writes to was deleted (by hand, or a clean-up script), open a new
    one at `log_path` onto stdout and stderr, starting with a line that says so (`announce`: the
    launcher of a distributed run says it, its ranks reopen silently); True if it did.

    Without this every later line went to the deleted file: `run logs` and the GUI showed nothing
    more, and a run that then failed had no log tail for its error.
    """
    try:
        if os.fstat(1).st_nlink > 0:
            return False
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return False  # the folder is gone too (or the disk fails): keep writing where we were
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)
    if announce:
        print(f"[{log_path.name} was deleted while the run was training; the lines written since then are lost]",
              flush=True)
    return True


def keep_attached(log_path: Path, every_s: float) -> threading.Event | None:
    """For a rank process of a distributed run: reopen `log_path` whenever it is deleted, checked
    every `every_s` seconds on a daemon thread, until the returned event is set (None when this
    process does not write to `log_path`, e.g. in a test).

    A rank inherits the launcher's descriptor of worker.log, and a descriptor is per process: the
    launcher reopening the log (its heartbeat does) left the ranks, which do the training and print
    its lines and tracebacks, writing into the deleted file.
    """
    if not writes_to(log_path):
        return None
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every_s):
            reattach_if_deleted(log_path, announce=False)

    threading.Thread(target=watch, daemon=True, name="log-reattach").start()
    return stop
