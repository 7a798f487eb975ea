"""The marker a home move's copy carries until it is complete (spark_trainer.jobs.home_move), and what it
allows: nothing opens a folder holding it (`refuse_open`, in Store.open), and a later move of the same home
removes that folder only when nothing but the move ever wrote to it (`used_since`).

A walk found both missing: a move killed mid-copy left a copy that opened as a normal home (half its
datasets without files), took a new dataset, and the next move to that folder deleted it with the rest.
The marker names the home being copied and, once the database is copied, that copy's size and mtime:
any process opening the folder writes to its database (following the move, `store.home_moves`), so a
database as recorded, no open-marks and no SQLite side files say no process opened it since.

The marker stays until the move is recorded, and says how far the move got (`phase`), so a kill at any
point leaves a copy that is never opened and that a retry removes. A walk found two windows: a kill during
the database copy left the backup's own -journal (and the check's -wal/-shm), read as "opened"; and a kill
after the check, the marker gone, left a copy opening as a second home. So the database is copied and
checked under a name of the move's own (`DB_COPYING`), recorded, then renamed into place; the move's one
open of its copy (to follow the move) is announced first ("opening", naming the move's process: only it
may open the copy then, and its side files and open-marks are told from another's by that process id);
once it has closed the copy, the database is recorded again ("opened"). After the move is recorded, the
first open of the new home removes a marker a kill left ("opened", and the record says the home went there).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spark_trainer import home_record
from spark_trainer.errors import BadInput
from spark_trainer.paths import DB_NAME
from spark_trainer.store import presence

_OWN_PREFIX = ".spark-move-"
MARKER = _OWN_PREFIX + "incomplete"
_SIDE_FILES = (DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal")
DB_COPYING = _OWN_PREFIX + "database"  # the database's copy until it is checked and recorded (its side files too)
COPYING, OPENING, OPENED = "copying", "opening", "opened"


@dataclass(frozen=True)
class PartialCopy:
    """What a marker says: the home being copied, and the copied database's (size, mtime_ns) once it is
    (None before; a marker of an older version never says, so its database is never taken as untouched)."""

    source: str | None
    database: tuple[int, int] | None = None
    phase: str = COPYING  # COPYING, OPENING (the move is opening its copy), OPENED (done, the move not recorded)
    pid: int | None = None  # the move's process, on `host`
    host: str | None = None
    keep_old: bool = False

    def is_mine(self) -> bool:
        """Written by this very process."""
        return self.pid == os.getpid() and self.host == presence.host_tag()


def write(dest: Path, source: Path, database: tuple[int, int] | None = None, *, phase: str = COPYING,
          keep_old: bool = False) -> None:
    """Write (or rewrite) the marker in `dest` atomically: a kill leaves the old marker or the new one."""
    text = json.dumps({"source": str(source), "database": list(database) if database else None, "phase": phase,
                       "pid": os.getpid(), "host": presence.host_tag(), "keep_old": keep_old})
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=_OWN_PREFIX, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest / MARKER)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fingerprint(db: Path) -> tuple[int, int]:
    found = db.stat()
    return found.st_size, found.st_mtime_ns


def read(root: Path) -> PartialCopy | None:
    """The marker in `root`, or None when there is none; an unreadable one names no source."""
    marker = root / MARKER
    if not marker.exists():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        database = data.get("database")
        pid = data.get("pid")
        return PartialCopy(str(data["source"]), (int(database[0]), int(database[1])) if database else None,
                           str(data.get("phase") or COPYING), int(pid) if pid is not None else None,
                           str(data["host"]) if data.get("host") else None, bool(data.get("keep_old")))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return PartialCopy(None)


def refuse_open(root: Path) -> None:
    """BadInput when `root` is the unfinished copy of a move: opening it would use a home with files missing."""
    copy = read(root)
    if copy is None or (copy.phase == OPENING and copy.is_mine()):  # none, or the move following its own copy
        return
    if copy.phase == OPENED and _recorded(copy, root):  # the move was recorded, then killed: finish it
        (root / MARKER).unlink(missing_ok=True)
        return
    if copy.source is None:
        raise BadInput(f"{root} is the unfinished copy of an interrupted data home move ({MARKER} is there); it is "
                       "not opened: move the home there again, or delete the folder")
    raise BadInput(f"{root} is the unfinished copy of an interrupted move of the data home at {copy.source} (that "
                   f"home is intact); it is not opened: run `spark-trainer --home {copy.source} home move {root}` "
                   "again, or delete the folder")


def _recorded(copy: PartialCopy, root: Path) -> bool:
    """The home record says the move that wrote `copy` took the home to `root` (or, keeping the old
    folder, made `root` the chosen home)."""
    if copy.source is None:
        return False
    here = str(root.resolve())
    return home_record.moved_to(copy.source) == here or (copy.keep_old and home_record.read_record().chosen == here)


def used_since(root: Path, copy: PartialCopy, source: Path) -> str | None:
    """Why the partial copy at `root` may hold something of its own, else None: it is provably what the move
    wrote (its database as recorded, no open-marks or SQLite side files, nothing the home at `source` lacks;
    while the move was opening its copy, only that process's open-marks and side files)."""
    if copy.phase == OPENING:
        opened = _opened_by_another(root, copy)
        if opened is not None:
            return opened
    elif (root / presence.FOLDER).exists():
        return f"a SparkTrainer process opened it ({presence.FOLDER}/ is there)"
    else:
        side = [name for name in _SIDE_FILES if (root / name).exists()]
        if side:
            return f"its database was opened ({side[0]} is there)"
        db = root / DB_NAME
        if db.exists() and (copy.database is None or fingerprint(db) != copy.database):
            return "its database is not the one the move copied"
    moves_own = (presence.FOLDER, *_SIDE_FILES) if copy.phase == OPENING else ()  # told apart above
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        for name in dirs + names:
            if here == root and (name == DB_NAME or name.startswith(_OWN_PREFIX) or name in moves_own):
                continue  # the database is checked above; the marker (and its temporary file) are the move's
            mine, theirs = here / name, source / (here / name).relative_to(root)
            if not theirs.exists() and not theirs.is_symlink():
                return f"it holds {mine.relative_to(root)}, which the home at {source} does not"
            if mine.is_file() and not mine.is_symlink() and theirs.is_file() \
                    and mine.stat().st_size > theirs.stat().st_size:
                return f"its {mine.relative_to(root)} is larger than the home's"
    return None


def _opened_by_another(root: Path, copy: PartialCopy) -> str | None:
    """While the move opened its copy, the database changed and side files and open-marks came: the move's
    own when its process is gone and no open-mark is another process's."""
    for mark in sorted((root / presence.FOLDER).glob(f"*{presence.SUFFIX}")):
        if not mark.name.startswith(f"{copy.pid}@{copy.host}-"):
            return f"a SparkTrainer process opened it ({presence.FOLDER}/{mark.name} is there)"
    if presence.holders(root) or copy.is_mine():  # removes the marks of ended processes on the way
        return f"the move that wrote it (process {copy.pid}) still has it open"
    return None
