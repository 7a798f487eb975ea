"""What a user can free when the data home's disk is full: its biggest folders, each with the way to
remove what it holds. Said where the database cannot even be opened for writing (store.Store's full
state), so the line itself is the way out."""

from __future__ import annotations

import os
from pathlib import Path

from spark_trainer.disk import human_bytes
from spark_trainer.paths import DataHome


def folder_bytes(folder: Path) -> int:
    """Disk space used under `folder` (allocated blocks, links not followed); 0 if it is missing."""
    total = 0
    stack = [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += stat.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
        except OSError:
            continue
    return total


def room_hint(home: DataHome) -> str:
    """`to make room: runs/ 31.2 MiB (`spark-trainer run delete ID`), ...`, biggest first; folders
    holding nothing are left out."""
    ways = {
        home.runs_dir: "`spark-trainer run delete ID`",
        home.datasets_dir: "`spark-trainer dataset delete NAME --delete-files`",
        home.exports_dir: "deleted with their run",
        home.root / "cache": f"safe to delete: `rm -r {home.root / 'cache'}`",
    }
    sizes = sorted(((folder_bytes(folder), folder, way) for folder, way in ways.items()), key=lambda t: -t[0])
    shown = [f"{folder.name}/ {human_bytes(size)} ({way})" for size, folder, way in sizes if size > 0]
    if not shown:
        return "free space elsewhere on this disk"
    return ("to make room, the home's biggest folders: " + ", ".join(shown)
            + "; a delete removes the folder first while the disk is full")
