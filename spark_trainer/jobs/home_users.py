"""Who uses a data home now, for a move (spark_trainer.jobs.home_move): other processes with its
database open, and a run that started at the old place during a copy."""

from __future__ import annotations

import os
from pathlib import Path

from spark_trainer.errors import OperationFailed
from spark_trainer.paths import DB_NAME
from spark_trainer.store import presence
from spark_trainer.store.engine import connect_read_only


def other_users(root: Path) -> list[str]:
    """Other processes with the home's database open ("pid 123 (spark-trainer-gui)"). They would go
    on writing at the old place after a move. Every SparkTrainer process says so through
    `store/presence.py` (any OS); on Linux, /proc/locks also shows any other program holding the
    shared lock SQLite takes on the -shm file in WAL mode (a database browser, an older version)."""
    pids = presence.holders(root) | sqlite_holders(root)
    pids.discard(os.getpid())
    return [f"pid {pid} ({process_name(pid)})" for pid in sorted(pids)]


def sqlite_holders(root: Path) -> set[int]:
    try:
        inode = (root / (DB_NAME + "-shm")).stat().st_ino
        text = Path("/proc/locks").read_text()
    except OSError:
        return set()
    pids = set()
    for line in text.splitlines():
        parts = line.split()  # "8: POSIX  ADVISORY  READ 14536 fe:00:2154800 128 128"
        if len(parts) == 8 and parts[1] == "POSIX" and parts[5].rsplit(":", 1)[-1] == str(inode):
            pids.add(int(parts[4]))
    return pids


def process_name(pid: int) -> str:
    import psutil

    try:
        words = psutil.Process(pid).cmdline()
    except (psutil.Error, OSError):
        return "?"
    text = " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words[:4]) if w)
    return " ".join(text.split())[:80]  # one line, whatever the command line held


def in_use_line(root: Path) -> str | None:
    users = other_users(root)
    if not users:
        return None
    return (f"the data home is open in another process ({', '.join(users)}): close it (another SparkTrainer "
            "window, `queue serve`, a playground) and move again")


def still_idle(source: Path) -> None:
    """Nothing started at the old place while it was copied (a scheduler in another process, say)."""
    line = in_use_line(source)
    if line is None:
        with connect_read_only(source / DB_NAME) as conn:
            found = conn.execute("SELECT id, status FROM runs WHERE status IN ('starting', 'running', 'stalled') "
                                 "LIMIT 1").fetchone()
        conn.close()
        line = None if found is None else f"run {found[0]} became {found[1]} during the copy"
    if line is not None:
        raise OperationFailed(line)
