"""Checks of where a data home moves to, the same for `home move` and the app's Move home dialog (both
through home_move.plan_move): one line each, before anything is copied or created."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from spark_trainer.errors import BadInput


def resolved(dest: str | os.PathLike[str]) -> Path:
    """`dest` as an absolute folder; an empty one is refused (Path('') is the current folder: `home move ""`
    tried to move the home there and said the folder it was run from "is not empty")."""
    if not str(dest).strip():
        raise BadInput("DEST is empty: give the folder to move the data home to")
    return Path(dest).expanduser().resolve()


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
