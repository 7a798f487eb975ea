"""Move a whole data home to another folder (`spark-trainer home move DEST`, Settings' "Move data home to…").

Refused while a run is starting, running or stalled, or an evaluation is queued or running: their workers
write into the home's folders. Paused and queued runs are fine (queued ones start from the new
place). The destination must not exist, or be empty, and must have room for the whole home.

On one filesystem the folder is renamed. Otherwise every file is copied (the database through SQLite's backup
API, so a reader elsewhere never sees half a page), the copy is checked (file count and sizes, and the
database's quick_check), the store is opened there so every stored path follows
(spark_trainer.store.home_moves), the home record (spark_trainer.home_record) points at the new place, and
only then is the old folder deleted (`keep_old` keeps it), renamed aside first (a kill meanwhile, or before
that rename, leaves it there, named by `home show` and `doctor`: set_aside_leftovers). A write to the home
during the copy (a command, the app) stops the move with the copy removed and the write kept
(`home_dest.Unchanged`; it used to be deleted with the old folder). A copy that fails or is interrupted leaves
the old home as it was and removes the partial copy; a copy killed outright, up to the move's record, leaves a
marker file in the destination (store/partial_copy.py): nothing opens that folder, and the next move of the
same home to it removes that partial copy first, provided nothing but the move wrote to it (else one line).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spark_trainer import home_record
from spark_trainer.disk import gb
from spark_trainer.errors import BadInput, Conflict, DiskFull, OperationFailed, SparkError
from spark_trainer.jobs import home_dest, home_users, writers
from spark_trainer.paths import DB_NAME, HOME_ENV, DataHome, disk_free_bytes
from spark_trainer.store import partial_copy, presence
from spark_trainer.store.engine import connect_read_only
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

MARKER = partial_copy.MARKER
# SQLite's side files: the backup API copies the database's committed content, WAL included.
_SIDE_FILES = (DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal")
SLACK_BYTES = 16 * 2**20  # room asked for beyond the home's size: directories, the database's growth
CHUNK = 4 * 2**20
_PROCESS_FOLDERS = (".pinned-", ".staging-")  # a process's own folders (jobs/leftovers.py): never copied

Progress = Callable[[int, int, str], None]  # bytes copied, bytes in all, the file being copied
CopyFile = Callable[[Path, Path, Callable[[int], None]], None]


class MoveCancelled(SparkError):
    """The user stopped a copy: the partial copy is gone and the home is where it was."""


@dataclass(frozen=True)
class MovePlan:
    """What a move will do, checked against the home and the destination."""

    source: Path
    dest: Path
    rename: bool  # same filesystem and the source goes: one rename
    files: int
    bytes: int
    queued: list[int] = field(default_factory=list)
    keep_old: bool = False
    removed_partial: bool = False  # a partial copy from an interrupted move was removed from dest


@dataclass(frozen=True)
class MoveResult:
    source: str
    dest: str
    method: str  # rename | copy
    files: int
    bytes: int
    kept_old: bool
    queued: list[int]
    moved: str | None  # what following the move rewrote (home_moves), or None
    notes: list[str]
    # $SPARK_TRAINER_HOME still pointing at the old place, or None: apart from `notes`, since the app
    # says it its own way where the variable decides how it restarts.
    env_note: str | None = None
    # The moved home is the chosen home at its new place (it was the chosen or default home); False
    # when it was another home, named for this command only: the choice was left as it was.
    chosen: bool = True
    chosen_home: str | None = None  # the chosen home after the move


def plan_move(store: Store, dest: str | os.PathLike[str], *, keep_old: bool = False) -> MovePlan:
    """Check that the home can move to `dest` now; raise one line saying why not."""
    from spark_trainer.store import runs

    source = store.home.root
    target = home_dest.resolved(dest)
    if target == source:
        raise BadInput(f"the data home is already at {source}")
    if target.is_relative_to(source):
        raise BadInput(f"{target} is inside the data home {source}; choose a folder outside it")
    busy = writers.busy_line(store) or home_users.in_use_line(source)
    if busy is not None:
        raise Conflict(busy)
    if target.exists() and not target.is_dir():
        raise BadInput(f"{target} is a file; choose a new or empty folder")
    removed = _remove_partial(target, source)
    if target.is_dir() and any(target.iterdir()):
        raise BadInput(f"{target} is not empty; choose a new or empty folder")
    home_dest.check_writable(target)
    files, size = _inventory(source)
    rename = not keep_old and _device(source) == _device(target)
    if not rename:
        free = disk_free_bytes(target)
        if free < size + SLACK_BYTES:
            raise DiskFull(f"not enough room at {target}: the data home needs {gb(size + SLACK_BYTES)}, "
                           f"{gb(free)} is free; nothing was copied")
    queued = [run.id for run in runs.list_all(store, statuses={RunStatus.QUEUED})]
    return MovePlan(source, target, rename, files, size, queued, keep_old, removed)


def carry_out(plan: MovePlan, *, progress: Progress | None = None, copy_file: CopyFile | None = None,
              cancel: threading.Event | None = None) -> MoveResult:
    """Move the home as planned. The caller has closed its own store on the source first. Setting
    `cancel` during a copy stops it (MoveCancelled) with the partial copy removed; a rename is instant."""
    in_use = home_users.in_use_line(plan.source)  # again: a process may have opened it since the plan (the dialog waits)
    if in_use is not None:
        raise Conflict(in_use)
    notes = ["removed the partial copy an interrupted move had left there"] if plan.removed_partial else []
    was_chosen = home_record.is_own_home(plan.source)  # read before the move: a default home no longer exists after
    if plan.rename:
        plan.dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(plan.source, plan.dest)  # onto an empty folder too
        except OSError as exc:
            raise OperationFailed(f"could not rename {plan.source} to {plan.dest}: {exc.strerror or exc}; "
                                  "the data home was not moved") from exc
        _record(plan, was_chosen)  # at once: the old path is empty now, and must say where the home went
        if progress is not None:
            progress(plan.bytes, plan.bytes, "")
        moved = _opened_at_new_place(plan)
    else:
        with home_dest.Unchanged(plan.source / DB_NAME) as unchanged:
            _copy_home(plan, progress, copy_file or copy_with_progress, cancel, unchanged)
            moved = _follow_copy(plan)
            try:  # the last word before the old home goes: nothing written to it since its database was read
                unchanged.check()
                home_users.still_idle(plan.source)
            except SparkError as exc:
                shutil.rmtree(plan.dest, ignore_errors=True)
                raise OperationFailed(f"{exc}; the copy was removed and the home is still at {plan.source}") from None
            # Before the old folder goes: a kill while it is deleted leaves the new home in use and the old
            # path refused (home_record.refuse_moved_away), not opening as a new, empty home.
            _record(plan, was_chosen)
            (plan.dest / MARKER).unlink()  # after the record: a kill before leaves a copy no one opens
            if not plan.keep_old:
                notes += _remove_old(plan.source)
    env, env_note = os.environ.get(HOME_ENV), None
    if env and Path(env).expanduser().resolve() == plan.source:
        env_note = f"${HOME_ENV} still points at {plan.source}; set it to {plan.dest} (it wins over the chosen home)"
    if plan.queued:
        notes.append(queued_note(plan))
    chosen_home = home_record.read_record().chosen
    return MoveResult(str(plan.source), str(plan.dest), "rename" if plan.rename else "copy", plan.files,
                      plan.bytes, plan.keep_old, plan.queued, moved, notes, env_note, was_chosen, chosen_home)


def _record(plan: MovePlan, was_chosen: bool) -> None:
    """Write the move into the home record: the chosen home follows it, and the old place says where it went."""
    if was_chosen:  # the machine's home moved: it stays the chosen one, at its new place
        home_record.set_chosen(plan.dest)
        home_record.set_opened(plan.dest)
    if not plan.keep_old:  # a command naming the old place is told where the home went
        home_record.note_moved(plan.source, plan.dest)


def _opened_at_new_place(plan: MovePlan) -> str | None:
    """Open the store at the new place once, so every stored path follows (home_moves)."""
    with Store.open(DataHome(plan.dest)) as moved_store:
        return moved_store.moved.describe() if moved_store.moved is not None else None


def _follow_copy(plan: MovePlan) -> str | None:
    """_opened_at_new_place, the marker kept: only this process opens it, and what it wrote is the move's."""
    partial_copy.write(plan.dest, plan.source, phase=partial_copy.OPENING, keep_old=plan.keep_old)
    moved = _opened_at_new_place(plan)
    (plan.dest / presence.FOLDER).rmdir()  # empty now that the store is closed: the move's own open-marks
    partial_copy.write(plan.dest, plan.source, partial_copy.fingerprint(plan.dest / DB_NAME),
                       phase=partial_copy.OPENED, keep_old=plan.keep_old)
    return moved


def _remove_old(source: Path) -> list[str]:
    """Delete the old folder, renamed aside first: a process opening the old path meanwhile finds no
    home there rather than files being deleted under it. The notes to say (what could not be removed)."""
    aside = home_record.set_aside_name(source, os.getpid())
    try:
        os.rename(source, aside)
    except OSError:
        aside = source
        (source / DB_NAME).unlink(missing_ok=True)  # first: a kill in the rmtree leaves no home that opens there
    failed: list[str] = []
    shutil.rmtree(aside, onerror=lambda _f, path, exc: failed.append(f"{path}: {exc[1]}"))
    return [f"the old folder {aside} could not be removed entirely ({failed[0]}); delete it by hand"] if failed else []


def queued_note(plan: MovePlan) -> str:
    """What a move says of the queued runs (they start from the new place)."""
    return f"queued run(s) {', '.join(map(str, plan.queued))} will start from {plan.dest}"


def copy_with_progress(src: Path, dst: Path, advanced: Callable[[int], None]) -> None:
    """Copy one file in chunks (so a large checkpoint shows progress), then its times and mode."""
    with open(src, "rb") as reader, open(dst, "wb") as writer:
        while chunk := reader.read(CHUNK):
            writer.write(chunk)
            advanced(len(chunk))
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(src, dst)


def _copy_home(plan: MovePlan, progress: Progress | None, copy_file: CopyFile,
               cancel: threading.Event | None = None, unchanged: home_dest.Unchanged | None = None) -> None:
    dest_existed = plan.dest.exists()
    done, current = 0, ""

    def advanced(count: int) -> None:
        nonlocal done
        if cancel is not None and cancel.is_set():  # checked per chunk: a large checkpoint stops within 4 MB
            raise MoveCancelled(f"the move was cancelled; the partial copy was removed and the home is still at "
                                f"{plan.source}")
        done += count
        if progress is not None:
            progress(done, plan.bytes, current)

    try:
        plan.dest.mkdir(parents=True, exist_ok=True)
        # Says "a partial copy of this home" to the next move here, if this process is killed outright.
        partial_copy.write(plan.dest, plan.source, keep_old=plan.keep_old)
        for folder, dirs, names in os.walk(plan.source):
            here = Path(folder)
            there = plan.dest / here.relative_to(plan.source)
            _skip_presence(here, plan.source, dirs)
            for name in dirs:
                if (here / name).is_symlink():
                    os.symlink(os.readlink(here / name), there / name)
                else:
                    (there / name).mkdir(exist_ok=True)
            for name in names:
                current = str((here / name).relative_to(plan.source))
                if here == plan.source and name in _SIDE_FILES:
                    continue
                if (here / name).is_symlink():
                    os.symlink(os.readlink(here / name), there / name)
                elif here == plan.source and name == DB_NAME:
                    _copy_database(here / name, plan)
                    advanced((here / name).stat().st_size)
                else:
                    copy_file(here / name, there / name, advanced)
        current = "the check"
        _verify(plan)
        home_users.still_idle(plan.source)
        if unchanged is not None:
            unchanged.check()
        if progress is not None:
            progress(plan.bytes, plan.bytes, "")
    except BaseException as exc:
        if dest_existed:  # an empty folder the user named: empty it again, keep it
            for child in plan.dest.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        else:
            shutil.rmtree(plan.dest, ignore_errors=True)
        if not isinstance(exc, Exception) or isinstance(exc, MoveCancelled):
            raise  # KeyboardInterrupt or a cancel: cleaned up, and still what it was
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            reason = f"the disk at {plan.dest} is full"
        raise OperationFailed(f"copying the data home to {plan.dest} failed at {current or 'the start'} ({reason}); "
                              f"the partial copy was removed and the home is still at {plan.source}") from exc


def _copy_database(src: Path, plan: MovePlan) -> None:
    """Copy and check the database under the move's own name (so are its journal, -wal, -shm), record it in
    the marker, then put it in place: a kill at any point leaves nothing read as opened."""
    copying = plan.dest / partial_copy.DB_COPYING
    source = connect_read_only(src)
    try:
        target = sqlite3.connect(copying)
        try:
            source.backup(target)
            check = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    if check != "ok":
        raise OperationFailed(f"the copied database fails its check ({check})")
    # What proves to a later move that nothing opened the copy since (used_since); a rename keeps size and mtime.
    partial_copy.write(plan.dest, plan.source, partial_copy.fingerprint(copying), keep_old=plan.keep_old)
    os.replace(copying, plan.dest / DB_NAME)


def _verify(plan: MovePlan) -> None:
    """The copy holds as many files as the home, each of the same size, and a database (checked as copied)."""
    mine = _sizes(plan.source)
    theirs = _sizes(plan.dest)
    theirs.pop(MARKER, None)
    mine.pop(DB_NAME, None)  # the backup's size differs from the file's (its WAL is merged in)
    copied_db = theirs.pop(DB_NAME, None)
    if len(mine) != len(theirs):
        raise OperationFailed(f"the copy holds {len(theirs)} files, the data home {len(mine)}")
    for name, size in mine.items():
        if theirs.get(name) != size:
            raise OperationFailed(f"{name} is {theirs.get(name)} bytes in the copy, {size} in the data home")
    if copied_db is None and (plan.source / DB_NAME).exists():
        raise OperationFailed("the copy holds no database")


def _sizes(root: Path) -> dict[str, int]:
    found = {}
    for folder, dirs, names in os.walk(root):
        _skip_presence(Path(folder), root, dirs)
        for name in names:
            path = Path(folder) / name
            if Path(folder) == root and name in _SIDE_FILES:
                continue
            found[str(path.relative_to(root))] = 0 if path.is_symlink() else path.stat().st_size
    return found


def _skip_presence(folder: Path, root: Path, dirs: list[str]) -> None:
    """Leave out the processes' open-marks (store/presence.py): they say who has *this* folder open; and
    a process's own folders (jobs/leftovers.py): checkpoint pins, hard links that a copy would write out
    as a second copy of the checkpoint (and that vanish mid-walk when their export ends), and half-written
    stagings. Both copy walks and the check skip the same."""
    if folder == root and presence.FOLDER in dirs:
        dirs.remove(presence.FOLDER)
    dirs[:] = [name for name in dirs if not name.startswith(_PROCESS_FOLDERS)]


def _inventory(root: Path) -> tuple[int, int]:
    sizes = _sizes(root)
    return len(sizes), sum(sizes.values()) + sum(_side_sizes(root))


def _side_sizes(root: Path) -> list[int]:
    return [(root / name).stat().st_size for name in _SIDE_FILES if (root / name).is_file()]


def _remove_partial(target: Path, source: Path) -> bool:
    """Remove what a killed move to `target` from this home left (its marker names the source), only when
    it is provably untouched since: a walk found a dataset added to such a copy deleted with it."""
    left = partial_copy.read(target)
    if left is None:
        return False
    if left.source != str(source):
        raise BadInput(f"{target} holds a partial copy of another data home ({left.source or 'unknown'}); delete it "
                       "or choose another folder")
    used = partial_copy.used_since(target, left, source)
    if used is not None:
        raise BadInput(f"{target} holds the unfinished copy of an interrupted move of this home, and {used}; it was "
                       "left as it is: look through it, then delete it or choose another folder")
    shutil.rmtree(target)
    return True


def _device(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.stat().st_dev


def home_summary(store: Store) -> dict[str, int]:
    """Size in bytes and how many runs and datasets the home holds (for `home show`)."""
    from spark_trainer.store import datasets, runs

    _files, size = _inventory(store.home.root)
    return {"bytes": size, "runs": len(runs.list_all(store)), "datasets": len(datasets.list_all(store))}
