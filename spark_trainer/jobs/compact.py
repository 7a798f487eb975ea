"""`home compact`: give the database's unused space back to the disk (SQLite's VACUUM).

Deleting runs frees their metric rows, but SQLite keeps the freed pages in the file for later rows:
a home whose history was cleaned up stays as large as it ever was. Compacting rewrites the database
without them. It is refused while a worker writes to the database (a run starting, running or
stalled, an evaluation queued or running: their writes would wait on it, and a long wait fails them),
and when the disk lacks the room it needs: SQLite builds the compacted copy in its temporary folder,
then writes it back through the write-ahead log beside the database, so both need about the size of
the database's used part. Another window or command may keep reading meanwhile (the file then shrinks
once it stops); one that holds a write longer than the busy timeout fails the compaction in one line,
with nothing changed.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.disk import free_bytes, human_bytes
from spark_trainer.errors import Conflict, DatabaseLocked, DiskFault, DiskFull, StoreError
from spark_trainer.store.store import SQLITE_BUSY, Store, disk_error

MARGIN = 8 * 2**20  # room beyond the estimate: SQLite's own pages, the -shm file
WORTH = 2**20  # unused space said (and the app's Compact offered) from this much up


@dataclass(frozen=True)
class DatabaseSize:
    """The database's files on disk and the part of them that holds nothing."""

    file_bytes: int  # the database file and its write-ahead log (-wal)
    unused_bytes: int  # free pages inside the database file

    @property
    def worth_compacting(self) -> bool:
        return self.unused_bytes >= WORTH

    @property
    def used_bytes(self) -> int:
        return max(0, self.file_bytes - self.unused_bytes)

    def line(self, advice: str = "`spark-trainer home compact` gives it back to the disk") -> str:
        """"12.0 MiB, 3.1 MiB of it unused (`advice`)": `home show`'s words, or the Settings page's with
        its own `advice`; the size alone under 1 MiB unused."""
        text = human_bytes(self.file_bytes)
        if self.worth_compacting:
            text += f", {human_bytes(self.unused_bytes)} of it unused ({advice})"
        return text


def database_size(store: Store) -> DatabaseSize:
    """How large the home's database is on disk, and how much of the file is free pages."""
    db = store.home.db_path
    raw = store.engine.raw_connection()
    try:
        page_size = int(raw.execute("PRAGMA page_size").fetchone()[0])
        free_pages = int(raw.execute("PRAGMA freelist_count").fetchone()[0])
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the database's size ({db}): {exc}") from None
    finally:
        raw.close()
    files = sum(_size(Path(f"{db}{suffix}")) for suffix in ("", "-wal"))
    return DatabaseSize(files, free_pages * page_size)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def check_room(store: Store, size: DatabaseSize) -> None:
    """Raise DiskFull, naming the folder and what it needs, unless the temporary folder and the home's
    disk can each hold the compacted copy (both at once where they are one disk)."""
    need = size.used_bytes + MARGIN
    home, temp = store.home.root, Path(tempfile.gettempdir())
    places = [(home, need)]
    if _device(temp) == _device(home):
        places = [(home, 2 * need)]
    else:
        places.append((temp, need))
    for folder, wanted in places:
        free = free_bytes(folder)
        if free < wanted:
            raise DiskFull(f"not enough room at {folder} to compact the database: it needs about "
                           f"{human_bytes(wanted)} and {human_bytes(free)} is free; nothing was changed",
                           DiskFault.FULL)


def _device(path: Path) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


@dataclass(frozen=True)
class Compacted:
    before: DatabaseSize
    after: DatabaseSize
    # Another window or command kept reading past the busy timeout: the rewritten database waits in
    # the write-ahead log (-wal), and the file shrinks at the next checkpoint once they stop.
    in_log: bool = False


def compact(store: Store, *, app: bool = False, starting: Callable[[], None] | None = None) -> Compacted:
    """Rewrite the database without its unused pages (`app`: a refusal in the app's words;
    `starting()` is called once the checks have passed, before the rewrite).

    Raises:
        Conflict: a worker writes to the database now (a run or an evaluation).
        DiskFull: not enough room for the compacted copy; nothing changed.
        DatabaseLocked: another process held the database past the busy timeout; nothing changed.
    """
    from spark_trainer.jobs.writers import busy_line

    why = busy_line(store, "compact the database", app=app)
    if why is not None:
        raise Conflict(why)
    before = database_size(store)
    check_room(store, before)
    if starting is not None:
        starting()
    raw = store.engine.raw_connection()
    try:
        raw.execute("VACUUM")  # outside a transaction: the engine's connections begin none of their own
        # The rewritten pages out of the log into the file, which shrinks, and the log emptied: waits (the
        # busy timeout) for readers on an older snapshot (a window's poll), then says if they still were.
        busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.Error as exc:
        full = disk_error(store.home.db_path, exc)
        if full is not None:
            raise full from None
        if getattr(exc, "sqlite_errorcode", None) is not None and exc.sqlite_errorcode & 0xFF == SQLITE_BUSY:
            raise DatabaseLocked(f"cannot compact the database ({store.home.db_path}): another window or command "
                                 f"kept it busy for over {store.busy_timeout_ms / 1000:g} s; nothing was changed; "
                                 "try again") from None
        raise StoreError(f"cannot compact the database ({store.home.db_path}): {exc}; nothing was changed") from None
    finally:
        raw.close()
    return Compacted(before, database_size(store), in_log=bool(busy))
