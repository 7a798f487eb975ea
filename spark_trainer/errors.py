"""Domain errors. Each maps to a CLI exit code: bad input is 2, a failed operation is 1."""

from __future__ import annotations

from enum import Enum


class SparkError(Exception):
    """Base of every error the CLI and GUI show as one line."""

    exit_code = 1


class BadInput(SparkError):
    """The caller asked for something invalid: unknown id, invalid config, unreadable file."""

    exit_code = 2


class NotFound(BadInput):
    """A named object does not exist."""


class Conflict(BadInput):
    """The object would clash with an existing one (a duplicate name, a row still in use)."""


class ConfigError(BadInput):
    """A configuration file or value is invalid. The message names the first problem; `problems` holds
    every one, each as a message of its own (`--json` errors list them)."""

    def __init__(self, message: str = "", problems: list[str] | None = None) -> None:
        super().__init__(*([message] if message else []))  # no words: describe() shows the class name
        self.problems = problems or ([message] if message else [])


class OperationFailed(SparkError):
    """The operation was valid but did not succeed (I/O error, a run that failed)."""


class StoreError(OperationFailed):
    """The database could not be read or written."""


class DatabaseLocked(StoreError):
    """Another process held the database's write lock for longer than the busy timeout."""


class SchemaTooNew(StoreError):
    """The database was written by a newer SparkTrainer than this one."""


class InternalError(SparkError):
    """A bug or a race inside SparkTrainer, not something the caller did wrong (exit code 1)."""


class IllegalTransition(InternalError):
    """A run status change that the run lifecycle does not allow."""


class DiskFault(str, Enum):
    """Why a write failed for its disk (`DiskFull.kind`), decided where the OS error is met (its errno),
    since what a user does about each differs (training/diskspace.resume_advice)."""

    FULL = "full"  # no space: ENOSPC, EDQUOT
    FILE_SIZE_LIMIT = "file_size_limit"  # the process's `ulimit -f` (EFBIG: Python ignores SIGXFSZ)
    TOO_LARGE = "too_large"  # EFBIG with no `ulimit -f`: the filesystem's largest file (FAT32's 4 GiB)
    IO_ERROR = "io_error"  # EIO, or SQLite's "disk I/O error" with no cause to tell
    READ_ONLY = "read_only"  # EROFS, EACCES, EPERM


class DiskFull(OperationFailed):
    """Not enough free space (or an I/O error) where a file had to be written; `kind` says which."""

    def __init__(self, message: str = "", kind: DiskFault = DiskFault.FULL) -> None:
        super().__init__(*([message] if message else []))
        self.kind = kind


class StoreDiskFull(DiskFull, StoreError):
    """The database could not be written because its disk is full or failing (SQLITE_FULL, SQLITE_IOERR)."""


def describe(exc: BaseException) -> str:
    """`Type: message` for a run's or a task's stored error (the message alone for a SparkError), whose
    first line is what the CLI and the GUI show: the message is stripped, so one that starts on a new
    line (transformers' ImportErrors do) does not leave that line empty ("ImportError: ")."""
    text = str(exc).strip()
    if text and isinstance(exc, SparkError):  # the app's own errors are written as one line for people
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
