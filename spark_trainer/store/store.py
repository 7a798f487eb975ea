"""The Store: one SQLite database in a data home, opened with migrations applied.

Opening guards the database: a file that is not SQLite (or is damaged) is reported with its path
and never written to; creating and migrating happen under a file lock (`sparktrainer.db.lock`), so
any number of processes may open a new home at once; a store opened without upgrading (workers)
still checks the schema revision is the one this code knows. The unfinished copy of an interrupted home
move is refused (store/partial_copy.py).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from spark_trainer.errors import Conflict, DatabaseLocked, DiskFault, StoreDiskFull, StoreError
from spark_trainer.paths import DataHome, resolve_home
from spark_trainer.store import home_moves, migrate, partial_copy, presence
from spark_trainer.store.engine import BUSY_TIMEOUT_MS, PAGE_SIZE, connect_read_only, make_engine, writer
from spark_trainer.store.home_moves import Moved
from spark_trainer.store.room import Room, measure, reading_line, room_hint

LOCK_TIMEOUT_S = 120.0
SQLITE_BUSY, SQLITE_IOERR, SQLITE_FULL = 5, 10, 13  # primary result codes (the low byte of an extended code)
WAL_PAGES = 1000  # SQLite's wal_autocheckpoint: the WAL is folded back into the database past this many pages


def check_database_file(db_path: Path) -> None:
    """Raise StoreError if `db_path` exists and is not a SQLite database (it is left untouched).

    The file is read through SQLite itself, read-only: opening and closing the database file with
    a plain `open()` would drop the POSIX locks every SQLite connection of this process holds on
    it, and let another process's writes corrupt the database.
    """
    if not db_path.exists() or db_path.stat().st_size == 0:
        return
    try:
        probe = connect_read_only(db_path)
        try:
            probe.execute("PRAGMA schema_version").fetchone()
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" not in str(exc):
            return  # locked, damaged pages...: reported by the open that follows, with its path
        raise StoreError(
            f"{db_path} is not a SQLite database (it was left untouched); restore a backup "
            f"({db_path.name}.backup-*), or move it aside to start an empty database, then run "
            "`spark-trainer doctor`") from None


@contextmanager
def _setup_lock(home: DataHome) -> Iterator[None]:
    """Serialise creating and migrating the database across processes. A home where the lock
    file cannot be created (read-only) cannot be migrated either, so it goes without."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(home.db_path) + ".lock", timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout as exc:
        raise StoreError(f"another SparkTrainer process has held {lock.lock_file} for over "
                         f"{LOCK_TIMEOUT_S:.0f} s while migrating the database") from exc
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


# SQLite's WAL write lock: an exclusive POSIX lock on this byte of the "-shm" file (WAL_WRITE_LOCK).
WAL_WRITE_LOCK_OFFSET = 120


def write_lock_holders(db_path: Path) -> set[int] | None:
    """The pids holding the database's write lock, from Linux's /proc/locks; None where it cannot be
    told (another OS). A process frozen inside a write (stopped, hung on a disk) keeps this lock and
    every other writer waits on it."""
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    try:
        inode = (db_path.parent / (db_path.name + "-shm")).stat().st_ino
    except OSError:
        return set()  # no shared-memory file: nobody is writing in WAL mode
    holders = set()
    for line in text.splitlines():
        # "1: POSIX  ADVISORY  WRITE 10746 fe:00:2148653 120 120"; a waiter's line has "->" after the id
        parts = line.split()
        if len(parts) == 8 and parts[1] == "POSIX" and parts[3] == "WRITE" \
                and parts[5].rsplit(":", 1)[-1] == str(inode) and parts[6] == str(WAL_WRITE_LOCK_OFFSET):
            holders.add(int(parts[4]))
    return holders


def _code(exc: BaseException) -> int | None:
    """SQLite's primary result code behind `exc` (SQLAlchemy's or sqlite3's), if it has one."""
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _disk_cause(exc: BaseException) -> BaseException:
    """The SQLITE_FULL or SQLITE_IOERR failure behind `exc`, or that `exc` was raised while handling, else
    `exc`. A failed write rolls SQLite's transaction back by itself, and a clean-up that follows can fail
    on what the rollback took: alembic's batch migration drops its `_alembic_tmp_` table after a failed
    copy, and its "no such table" hid the file size limit the copy had met."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if _code(seen) in (SQLITE_FULL, SQLITE_IOERR):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def disk_error(db_path: Path, exc: BaseException) -> StoreDiskFull | None:
    """The one-line error for a SQLite failure caused by a full or failing disk, else None.

    SQLite says only "database or disk is full" / "disk I/O error"; this names the folder and its
    free space, which is what a user can act on, and its `kind` says which of the two it was, or a file
    size limit (`ulimit -f`) the database reached: SQLite keeps the errno to itself (a write past the
    limit is EFBIG, read as an I/O error; one across it is short, read as a full disk).
    """
    from spark_trainer.disk import free_bytes, gb

    exc = _disk_cause(exc)
    code = _code(exc)
    if code not in (SQLITE_FULL, SQLITE_IOERR):
        return None
    try:
        free = gb(free_bytes(db_path.parent))
    except OSError:
        free = "unknown space"
    try:
        nearly_full = free_bytes(db_path.parent) < 2**20
    except OSError:
        nearly_full = False
    # An I/O error with no room left is the disk being full too (creating the -shm file fails so).
    if nearly_full:
        return _disk_full(db_path, free)
    limit = _limit_in_reach(db_path)
    if limit is not None:
        return StoreDiskFull(f"cannot write the database {db_path}: the file size limit ({limit} bytes, `ulimit -f`) "
                             f"is too small for it ({free} free; nothing was changed)", DiskFault.FILE_SIZE_LIMIT)
    if code == SQLITE_FULL:
        return _disk_full(db_path, free)
    return StoreDiskFull(f"I/O error writing the database {db_path}: {getattr(exc, 'orig', None) or exc} "
                         f"({free} free; nothing was changed)", DiskFault.IO_ERROR)


def _disk_full(db_path: Path, free: str) -> StoreDiskFull:
    return StoreDiskFull(f"disk full at {db_path.parent}: {free} free; the database {db_path.name} could not "
                         "be written (nothing was changed)", DiskFault.FULL)


def _limit_in_reach(db_path: Path) -> int | None:
    """The process's file size limit when the database's files could have reached it: within the
    database's own size (a transaction rewriting it) or a full WAL (1,000 pages before SQLite folds it
    back) of its largest file (the database, its -wal, -shm or -journal)."""
    from spark_trainer.disk import file_size_limit

    limit = file_size_limit()
    if limit is None:
        return None
    sizes = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            sizes[suffix] = db_path.with_name(db_path.name + suffix).stat().st_size
        except OSError:
            sizes[suffix] = 0
    reach = max(sizes.values()) + max(sizes[""], WAL_PAGES * PAGE_SIZE)
    return limit if limit <= reach else None


def _damaged(db_path: Path, exc: BaseException) -> StoreError:
    full = disk_error(db_path, exc)
    if full is not None:
        return full
    return StoreError(f"cannot open database {db_path}: {getattr(exc, 'orig', None) or exc}; it was left untouched "
                      "(run `spark-trainer doctor` for what to do)")


def _follow_move(store: Store) -> Moved | None:
    """Point stored paths at this home if it was moved or copied (spark_trainer.store.home_moves).
    The usual case, a home opened where it was last, is one read and no write lock."""
    root = store.home.root
    with store.read() as session:
        if home_moves.recorded_root(session) == str(root):
            return None
    with store.write() as session:
        return home_moves.follow_move(session, root)


class Store:
    """Sessions over one data home's database. Use `Store.open()`; close when done."""

    def __init__(self, home: DataHome, busy_timeout_ms: int = BUSY_TIMEOUT_MS, *,
                 full: StoreDiskFull | None = None) -> None:
        self.home, self.busy_timeout_ms = home, busy_timeout_ms
        # Set when the disk was full at open: the database is read as it stands (engine.make_engine's
        # `frozen`) and every write is refused with this, until a write finds room again.
        self.full = full
        self._room: Room | None = None  # the home's folders as measured when it opened full
        self._thawing = threading.Lock()  # a write and the app's poll may both find room at once
        self._use(make_engine(home.db_path, busy_timeout_ms, frozen=full is not None))
        # Set by open() when the home was moved or copied by hand since it was last opened.
        self.moved: Moved | None = None
        # Says to other processes that this one has the home open (a move waits for it to close).
        self._presence: presence.Presence | None = None

    @classmethod
    def open(cls, home: DataHome | str | None = None, *, upgrade: bool = True,
             busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Store:
        """Open (creating if needed) the store in `home`, applying pending migrations.

        With `upgrade=False` (workers) nothing is migrated, and a database at another schema
        revision than this code's is refused. A write waits up to `busy_timeout_ms` for another
        process's write lock, then raises DatabaseLocked.
        """
        data_home = home if isinstance(home, DataHome) else resolve_home(home)
        partial_copy.refuse_open(data_home.root)  # an interrupted move's copy: files missing, and a retry removes it
        data_home.ensure()
        check_database_file(data_home.db_path)
        with _setup_lock(data_home):
            store = cls(data_home, busy_timeout_ms)
            try:
                if upgrade:
                    migrate.upgrade(store.engine, backup_of=data_home.db_path)
                else:
                    found = migrate.current_revision(store.engine)
                    if found is not None and found not in migrate.known_revisions():
                        raise StoreError(f"database {data_home.db_path} is at schema revision {found!r}, newer than "
                                         f"this SparkTrainer's {migrate.HEAD_REVISION!r}: a newer version migrated "
                                         "it, and this process (started by an older version still running) cannot "
                                         "use it; the newer version's scheduler starts queued runs")
                    if found != migrate.HEAD_REVISION:
                        raise StoreError(f"database {data_home.db_path} is at schema revision {found!r}; this "
                                         f"SparkTrainer needs {migrate.HEAD_REVISION!r} (open it once with the "
                                         "app or any spark-trainer command to migrate it)")
                store.moved = _follow_move(store)
                store._presence = presence.announce(data_home.root)
            except (DatabaseError, sqlite3.Error) as exc:
                store.close()
                error = _damaged(data_home.db_path, exc)
                if not (upgrade and isinstance(error, StoreDiskFull) and error.kind == DiskFault.FULL):
                    raise error from exc
                return cls._open_full(data_home, busy_timeout_ms, error)
            except BaseException:
                store.close()
                raise
        return store

    @classmethod
    def _open_full(cls, home: DataHome, busy_timeout_ms: int, error: StoreDiskFull) -> Store:
        """The store of a home whose disk has no room even to start reading the database (WAL mode's
        -shm file cannot grow): read as the file stands, writes refused, so that lists still show
        and deletes can make room (jobs.control.delete). A database that needs migrating cannot be."""
        room = measure(home)
        full = StoreDiskFull(f"{error}; {room_hint(home, room)}", DiskFault.FULL)
        store = cls(home, busy_timeout_ms, full=full)
        store._room = room
        try:
            found = migrate.current_revision(store.engine)
        except (DatabaseError, sqlite3.Error):
            found = None
        if found != migrate.HEAD_REVISION:
            store.close()
            raise full from error
        store._presence = presence.announce(home.root)  # None where no file can be made: a move then cannot tell
        return store

    def _use(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(writer(engine), expire_on_commit=False)

    def _thaw(self) -> None:
        """Leave the read-only state of a full disk if the database can be opened as usual again (room
        was made since); else raise why not, with what to free."""
        with self._thawing:
            if self.full is None:  # another thread found room first
                return
            engine = make_engine(self.home.db_path, self.busy_timeout_ms)
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
            except (DatabaseError, sqlite3.Error) as exc:
                engine.dispose()
                # A new exception each time: raising the stored one grew its traceback by every failed
                # try (the app's poll tries every 2 s: ~40 KB a tick held for good).
                raise StoreDiskFull(str(self.full), self.full.kind) from exc
            frozen, self.full = self.engine, None
            self._use(engine)
            frozen.dispose()
            if self._presence is None:  # none could be made on the full disk: a move would not see this process
                self._presence = presence.announce(self.home.root)

    def thaw(self) -> bool:
        """Whether the store writes: a store opened on a full disk tries to open the database as usual
        again (someone made room). For a reader that otherwise never writes (the app's poll)."""
        if self.full is not None:
            try:
                self._thaw()
            except StoreDiskFull:
                return False
        return True

    def reading_line(self, *, app: bool = False) -> str | None:
        """What to say while the store only reads (None once it writes): the disk is full, only reading
        works, and what to free (in the app's words with `app`; the folders as measured at open)."""
        return None if self.full is None else reading_line(self.home, self._room, app=app)

    def close(self) -> None:
        self.engine.dispose()
        if self._presence is not None:
            self._presence.release()
            self._presence = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read session; nothing it does is committed."""
        with self._reads() as session:
            try:
                yield session
            except DatabaseError as exc:
                full = disk_error(self.home.db_path, exc)
                if full is not None:
                    raise full from exc
                raise StoreError(f"database read failed ({self.home.db_path}): {exc.orig}") from exc
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE): commits on success, rolls back on any error."""
        if self.full is not None:
            self._thaw()
        session = self._writes()
        try:
            yield session
            session.commit()
        except (IntegrityError, sqlite3.IntegrityError) as exc:
            session.rollback()
            raise Conflict(f"conflicts with existing data: {getattr(exc, 'orig', exc)}") from exc
        except (DatabaseError, sqlite3.Error) as exc:  # sqlite3's own: writers on the raw connection (metric packs)
            session.rollback()
            full = disk_error(self.home.db_path, exc)
            if full is not None:
                raise full from exc
            if _code(exc) == SQLITE_BUSY:
                raise DatabaseLocked(f"database write failed ({self.home.db_path}): another process kept it locked "
                                     f"for over {self.busy_timeout_ms / 1000:g} s") from exc
            raise StoreError(f"database write failed ({self.home.db_path}): {getattr(exc, 'orig', exc)}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
