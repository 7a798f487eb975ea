"""Queued runs wait while the runs folder has less room than the last disk-full failure needed.

A run that meets a full disk fails with one line saying how much its write needed ("disk full at
<run>/checkpoints: 15.4 MiB free, the checkpoint needs about 1.9 MiB, plus 16.0 MiB kept free for
logs and the database; ...", `training.diskspace`). Starting the next queued run on that disk only
fails it too, 20 s later, and so on: a night's queue ended all failed. So every scheduler holds the
queued runs while the free space at the runs folder is below what that failure needed (the need
plus the kept-free margin, as the line recorded them; the margin alone when it names no need), says
so as their waiting reason, and starts them once space is freed.

The hold comes from the newest such failure since a scheduler last started a run
(`store.run_failures`): once space was freed and a run started, an older failure holds nothing, and
a run that fails again holds anew. A failed run resumed or deleted holds nothing either. An I/O
error or a file-size limit (`ulimit -f`) is no lack of room, and holds nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.disk import free_bytes, gb
from spark_trainer.store import run_failures
from spark_trainer.store.store import Store

# The event reason of a run failed by a full or failing disk (finish.disk_full_finish).
DISK_FULL_REASON = "disk full or I/O error"
# The line of a write that found no room ("disk full at <folder>: 15.4 MiB free"), not an I/O error's.
_FULL = re.compile(r"disk full at .+?: (?:[\d.]+ [KMGT]iB|unknown space) free")
_NEEDS = re.compile(r"needs about ([\d.]+) ([KMGT]iB)")
_MARGIN = re.compile(r"([\d.]+) ([KMGT]iB) kept free")
_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


@dataclass(frozen=True)
class DiskHold:
    run_id: int  # the run that failed on the full disk
    folder: Path  # the runs folder, whose free space is read
    free: int
    needed: int

    @property
    def reason(self) -> str:
        """A held run's waiting reason, as `run show` and the app's Runs list show it after "queued: "."""
        return (f"waiting for disk space: {gb(self.free)} free at {self.folder}, run {self.run_id} needed about "
                f"{gb(self.needed)}")


def _bytes(match: re.Match[str]) -> int:
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def needed_bytes(error: str | None) -> int | None:
    """The free space a disk-full failure's line says its write needed: its need plus the room kept
    free; None for a line that is no lack of room (an I/O error, a file-size limit)."""
    from spark_trainer.training.diskspace import MARGIN_BYTES

    if not error or _FULL.search(error) is None:
        return None
    needs, margin = _NEEDS.search(error), _MARGIN.search(error)
    return (_bytes(needs) if needs else 0) + (_bytes(margin) if margin else MARGIN_BYTES)


def current(store: Store) -> DiskHold | None:
    """The hold on queued runs now, or None: the newest disk-full failure since a run last started,
    while the runs folder has less free space than it needed."""
    failed = run_failures.failed_since_last_start(store, DISK_FULL_REASON)
    needed = needed_bytes(failed.error) if failed is not None else None
    if failed is None or needed is None:
        return None
    folder = store.home.runs_dir
    try:
        free = free_bytes(folder)
    except OSError:  # cannot be read (the folder is gone): nothing to hold on; a start says what is wrong
        return None
    return DiskHold(failed.id, folder, free, needed) if free < needed else None
