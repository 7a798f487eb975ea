"""Private folders a process makes in the data home and removes on leaving: checkpoint pins
(`runs/<id>/.pinned-*`, export/checkpoint.py), export stagings (`exports/.staging-<name>-*`) and
ingestion stagings (`datasets/.staging-*`, ingest/staging.py).

A process killed outright (SIGKILL, power loss) leaves its folder behind, holding disk space (a pin's
hard links keep a pruned checkpoint's files). The name says who made it, `@<host>-<pid>-<start ms>`,
so a later process can tell a dead one: made on this host, and that pid is gone or now belongs to a
process started at another time. A home on a network share seen by two machines: a folder made on
the other machine is never judged here (its pid means nothing on this one).

An older version named them `<pid>-<random>` (ingestion stagings: `<12 hex>`), without host or start time. Their pid says nothing
certain (another machine's process, or a pid this host has reused since), so they are judged by age
alone: one whose folder is older than LEGACY_MAX_AGE_S goes (no export or evaluation holds a checkpoint
for a day), a younger one stays, whatever its pid.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from spark_trainer.jobs import process
from spark_trainer.store.presence import host_tag

LEGACY_MAX_AGE_S = 24 * 3600  # an older version's `<pid>-<random>` folder goes once it is older than this
# Older versions' names: pins and export stagings `<pid>-<8 hex>`, ingestion stagings `<12 hex>`.
_LEGACY_NAME = re.compile(r"\d+-[0-9a-f]{8}|[0-9a-f]{12}")


def tag() -> str:
    """`@<host>-<pid>-<start ms>` of this process, for the name of a folder it makes ('@' is in no host
    name, and the host's own '-' are written '_': the name reads back whatever comes before the tag)."""
    me = process.identity(os.getpid())
    return f"@{host_tag()}-{os.getpid()}-{round(me.start_time * 1000) if me else 0}"


def dead_here(rest: str, folder: Path | None = None) -> bool:
    """Whether the folder whose name (after its prefix) is `rest` = `<tag>-<random>` was made on this
    host by a process that is gone. A name of an older version (`<pid>-<random>`, `<12 hex>`) is judged by the age
    of `folder` (never by its pid): dead once older than LEGACY_MAX_AGE_S; without `folder`, alive."""
    if "@" in rest:
        parts = rest.rsplit("@", 1)[1].split("-")
        if len(parts) != 4 or not (parts[1].isdigit() and parts[2].isdigit()):
            return False
        host, pid, start_ms = parts[0], int(parts[1]), int(parts[2])
        return host == host_tag() and not process.is_alive(pid, start_ms / 1000 if start_ms else None)
    if folder is None or _LEGACY_NAME.fullmatch(rest) is None:
        return False
    try:
        return time.time() - folder.stat().st_mtime > LEGACY_MAX_AGE_S
    except OSError:
        return False


def remove_dead(folder: Path, prefix: str) -> int:
    """Remove the dead folders named `<prefix><tag>-<random>` in `folder`; returns how many."""
    removed = 0
    for old in folder.glob(f"{prefix}*") if folder.is_dir() else ():
        if old.is_dir() and dead_here(old.name[len(prefix):], old):
            shutil.rmtree(old, ignore_errors=True)
            removed += 1
    return removed


def sweep_home(runs_dir: Path, exports_dir: Path, datasets_dir: Path | None = None) -> int:
    """Dead pins in every run's folder, dead export stagings in the exports folder and dead ingestion
    stagings in the datasets folder."""
    removed = remove_dead(exports_dir, ".staging-")
    if datasets_dir is not None:
        removed += remove_dead(datasets_dir, ".staging-")
    for run_dir in runs_dir.iterdir() if runs_dir.is_dir() else ():
        removed += remove_dead(run_dir, ".pinned-")
    return removed
