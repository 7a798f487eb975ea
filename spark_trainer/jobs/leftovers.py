"""Private folders a process makes in the data home and removes on leaving: checkpoint pins
(`runs/<id>/.pinned-*`, export/checkpoint.py), export stagings (`exports/.staging-<name>-*`),
ingestion stagings (`datasets/.staging-*`, ingest/staging.py) and the video wizard's work folders
(`cache/video/.work-*`, ingest/video/wizard.py).

A process killed outright (SIGKILL, power loss) leaves its folder behind, holding disk space (a pin's
hard links keep a pruned checkpoint's files). The name says who made it, `@<host>-<pid>-<start ms>`,
so a later process can tell a dead one: made on this host, and that pid is gone or now belongs to a
process started at another time. A home on a network share seen by two machines: a folder made on
the other machine is never judged here (its pid means nothing on this one).

An older version named them `<pid>-<random>` (ingestion stagings: `<12 hex>`, video work: `<8 hex>`), without host or start time. Their pid says nothing
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
from spark_trainer.paths import DataHome
from spark_trainer.store.presence import host_tag

LEGACY_MAX_AGE_S = 24 * 3600  # an older version's `<pid>-<random>` folder goes once it is older than this
# Older versions' names: pins and export stagings `<pid>-<8 hex>`, ingestion stagings `<12 hex>`, the
# video wizard's work `<8 hex>`.
_LEGACY_NAME = re.compile(r"\d+-[0-9a-f]{8}|[0-9a-f]{12}|[0-9a-f]{8}")


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


def find_dead(folder: Path, prefix: str) -> list[Path]:
    """The dead folders named `<prefix><tag>-<random>` in `folder`."""
    return sorted(old for old in (folder.glob(f"{prefix}*") if folder.is_dir() else ())
                  if old.is_dir() and dead_here(old.name[len(prefix):], old))


def remove_dead(folder: Path, prefix: str) -> int:
    """Remove the dead folders named `<prefix><tag>-<random>` in `folder`; returns how many."""
    found = find_dead(folder, prefix)
    for old in found:
        shutil.rmtree(old, ignore_errors=True)
    return len(found)


def _places(runs_dir: Path, exports_dir: Path, datasets_dir: Path | None,
            video_cache_dir: Path | None) -> list[tuple[Path, str]]:
    places = [(exports_dir, ".staging-")]
    places += [(datasets_dir, ".staging-")] if datasets_dir is not None else []
    places += [(video_cache_dir, ".work-")] if video_cache_dir is not None else []
    return places + [(run_dir, ".pinned-") for run_dir in (runs_dir.iterdir() if runs_dir.is_dir() else ())]


def sweep_home(runs_dir: Path, exports_dir: Path, datasets_dir: Path | None = None,
               video_cache_dir: Path | None = None) -> int:
    """Dead pins in every run's folder, dead export stagings in the exports folder, dead ingestion
    stagings in the datasets folder and the video wizard's dead work folders."""
    return sum(remove_dead(folder, prefix) for folder, prefix in
               _places(runs_dir, exports_dir, datasets_dir, video_cache_dir))


def dead_in_home(home: DataHome) -> list[Path]:
    """What `sweep_home` would remove now in `home` (for `doctor` to report)."""
    return [old for folder, prefix in _places(home.runs_dir, home.exports_dir, home.datasets_dir,
                                              home.video_cache_dir) for old in find_dead(folder, prefix)]
