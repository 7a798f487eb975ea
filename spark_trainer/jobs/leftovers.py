"""Private folders a process makes in the data home and removes on leaving: checkpoint pins
(`runs/<id>/.pinned-[export-|evaluation-]*`, export/checkpoint.py), export stagings (`exports/.staging-<name>-*`),
ingestion stagings (`datasets/.staging-*`, ingest/staging.py) and the video wizard's work folders
(`cache/video/.work-*`, ingest/video/wizard.py).

A process killed outright (SIGKILL, power loss) leaves its folder behind, holding disk space (a pin's
hard links keep a pruned checkpoint's files). The name says who made it, `@<host>-<pid>-<start ms>`,
so a later process can tell a dead one: made on this host, and that pid is gone or now belongs to a
process started at another time. A home on a network share seen by two machines: a folder made on
the other machine is never judged here (its pid means nothing on this one).

A staging a process makes outside the home (an export's or a launch's, beside the `--out` folder
a user chose) is noted in the home: a file `.away/<tag>-<random>` naming it, removed with it. The sweep
removes a dead process's staging through its note, so it goes at the next sweep whatever folder the
next export or launch writes to.

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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


AWAY = ".away"  # in the home: notes naming the stagings processes make outside it


@contextmanager
def noted_away(home_root: Path, staging: Path) -> Iterator[None]:
    """Note `staging`, a folder this process makes outside the home, for the sweep to remove should the
    process be killed; the note goes when the block ends (the caller removes or renames the folder)."""
    note = home_root / AWAY / f"{tag()}-{uuid.uuid4().hex[:8]}"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(str(staging), encoding="utf-8")
    try:
        yield
    finally:
        note.unlink(missing_ok=True)


def _dead_away(home_root: Path) -> list[tuple[Path, Path | None]]:
    """(note, the staging it names, if still there) of each dead process's note. Only a folder whose name
    carries the note's own tag is ever named back: a note edited to name another folder names nothing."""
    found = []
    folder = home_root / AWAY
    for note in sorted(folder.iterdir()) if folder.is_dir() else ():
        if not note.is_file() or "@" not in note.name or not dead_here(note.name, note):
            continue
        try:
            staging = Path(note.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            staging = None
        own = staging is not None and note.name.rsplit("-", 1)[0] in staging.name and staging.is_dir()
        found.append((note, staging if own else None))
    return found


def remove_dead_away(home_root: Path) -> int:
    """Remove the stagings outside the home that dead processes noted, and their notes; returns how many."""
    found = _dead_away(home_root)
    for note, staging in found:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        note.unlink(missing_ok=True)
    return sum(staging is not None for _, staging in found)


def _places(runs_dir: Path, exports_dir: Path, datasets_dir: Path | None,
            video_cache_dir: Path | None) -> list[tuple[Path, str]]:
    places = [(exports_dir, ".staging-")]
    places += [(datasets_dir, ".staging-")] if datasets_dir is not None else []
    places += [(video_cache_dir, ".work-")] if video_cache_dir is not None else []
    return places + [(run_dir, ".pinned-") for run_dir in (runs_dir.iterdir() if runs_dir.is_dir() else ())]


def sweep_home(runs_dir: Path, exports_dir: Path, datasets_dir: Path | None = None,
               video_cache_dir: Path | None = None) -> int:
    """Dead pins in every run's folder, dead export stagings in the exports folder, dead ingestion
    stagings in the datasets folder, the video wizard's dead work folders and the dead stagings noted
    in the home (`noted_away`: beside an export's or launch's --out)."""
    return remove_dead_away(runs_dir.parent) + sum(remove_dead(folder, prefix) for folder, prefix in
                                                   _places(runs_dir, exports_dir, datasets_dir, video_cache_dir))


def dead_in_home(home: DataHome) -> list[Path]:
    """What `sweep_home` would remove now in `home` (for `doctor` to report)."""
    found = [old for folder, prefix in _places(home.runs_dir, home.exports_dir, home.datasets_dir,
                                               home.video_cache_dir) for old in find_dead(folder, prefix)] + \
        [staging for _, staging in _dead_away(home.root) if staging is not None]
    return list(dict.fromkeys(found))  # a killed export's staging is both a dead folder and its note's: once
