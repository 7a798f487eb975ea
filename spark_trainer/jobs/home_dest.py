"""Checks of a data home's move, the same for `home move` and the app's Move home dialog (both through
home_move): where it moves to (one line each, before anything is copied or created), and that nothing
wrote to the home while it was copied (`Unchanged`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from spark_trainer.errors import BadInput, OperationFailed
from spark_trainer.paths import check_path_length
from spark_trainer.store.engine import connect_read_only


def resolved(dest: str | os.PathLike[str]) -> Path:
    """`dest` as an absolute folder; an empty one is refused (Path('') is the current folder: `home move ""`
    tried to move the home there and said the folder it was run from "is not empty"), and one too long for
    SQLite (the home was copied, then could not be opened there)."""
    if not str(dest).strip():
        raise BadInput("DEST is empty: give the folder to move the data home to")
    target = Path(dest).expanduser().resolve()
    check_path_length(target)
    return target


def check_writable(target: Path) -> None:
    """Refuse a `target` no folder can be made in (/proc/foo, a read-only disk) by making and removing one
    in it or its nearest existing parent: the room check said "0.0 MiB is free" for /proc/foo."""
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".sparktrainer-probe-", dir=probe))
    except OSError as e:
        raise BadInput(f"{target} cannot be written ({probe}: {e.strerror or e}); choose a folder you can "
                       "write to") from None


class Unchanged:
    """Proof that nothing was written to a home's database while it was copied: a connection kept open on
    it from before the copy, whose `PRAGMA data_version` changes when another connection commits. A
    command that opened the home, wrote and ended during a long copy passed every other check, and the
    move then deleted the old home with that write (a walk: three `project create` reported done, gone)."""

    def __init__(self, db: Path) -> None:
        self.conn = connect_read_only(db)
        self.first = self._version()

    def _version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def check(self) -> None:
        if self._version() != self.first:
            raise OperationFailed("the data home was written to while it was copied (a command or the app used "
                                  "it meanwhile)")

    def __enter__(self) -> Unchanged:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.conn.close()
