"""What a user can free when the data home's disk is full: its biggest folders, each with the way to
remove what it holds. Said where the database cannot even be opened for writing (store.Store's full
state), so the line itself is the way out."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.disk import folder_bytes, human_bytes
from spark_trainer.paths import DataHome

# How each folder of the home is emptied, said in the CLI's words and in the app's.
_KNOWN = ("runs", "datasets", "models", "exports", "cache")


def _ways(home: DataHome, *, app: bool) -> dict[str, str]:
    cache = f"safe to delete: `rm -r {home.root / 'cache'}`"
    models = "base models: remove one no run still trains from"
    if app:
        return {"runs": "delete a run from the Runs view", "datasets": "Delete dataset… in the Datasets view",
                "models": models, "exports": "deleted with their run", "cache": cache}
    return {"runs": "`spark-trainer run delete ID`", "datasets": "`spark-trainer dataset delete NAME --delete-files`",
            "models": models, "exports": "deleted with their run", "cache": cache}


def _folders(home: DataHome) -> list[Path]:
    """The home's known folders, then any other (not hidden) folder someone put there."""
    others: list[Path] = []
    try:
        with os.scandir(home.root) as entries:
            others = sorted(Path(e.path) for e in entries
                            if e.is_dir(follow_symlinks=False) and e.name not in _KNOWN and not e.name.startswith("."))
    except OSError:
        pass
    return [home.root / name for name in _KNOWN] + others


@dataclass(frozen=True)
class Room:
    """What the home's folders hold, measured once (a walk of every file: not on the GUI thread)."""

    held: int  # the whole home
    folders: list[tuple[int, Path]]  # biggest first, empty ones left out


def measure(home: DataHome) -> Room:
    sizes = sorted(((folder_bytes(folder), folder) for folder in _folders(home)), key=lambda t: -t[0])
    return Room(folder_bytes(home.root), [(size, folder) for size, folder in sizes if size > 0])


def room_hint(home: DataHome, room: Room | None = None, *, app: bool = False) -> str:
    """`to make room, the home's biggest folders: runs/ 31.2 MiB (`spark-trainer run delete ID`), ...`,
    biggest first (as `room` measured them, else now); with `app`, the app's actions instead of commands.
    Says too when most of what the disk holds is outside the home (deleting runs would not be enough)."""
    room = room or measure(home)
    ways = _ways(home, app=app)
    shown = [f"{folder.name}/ {human_bytes(size)} ({ways.get(folder.name, 'not made by SparkTrainer')})"
             for size, folder in room.folders]
    outside = _outside(home, room.held)
    if not shown:
        return "free space elsewhere on this disk" + (f" ({outside})" if outside else "")
    return ("to make room, the home's biggest folders: " + ", ".join(shown)
            + "; a delete removes the folder first while the disk is full" + (f"; {outside}" if outside else ""))


def _outside(home: DataHome, held: int) -> str | None:
    """"the home holds 1.2 MiB of the 38.0 MiB used on its disk; the rest is outside it" when most is."""
    try:
        usage = shutil.disk_usage(home.root)
    except OSError:
        return None
    used = usage.total - usage.free
    if used <= 0 or held * 2 >= used:
        return None
    return (f"the home holds {human_bytes(held)} of the {human_bytes(used)} used on its disk; the rest is "
            "outside it")


def reading_line(home: DataHome, room: Room | None = None, *, app: bool = False) -> str:
    """What a store that only reads says before anything was asked of it (a list, the app's banner)."""
    from spark_trainer.disk import free_bytes, gb

    try:
        free = gb(free_bytes(home.root))
    except OSError:
        free = "unknown space"
    return (f"the disk is full ({home.root}: {free} free): only reading works until there is room; "
            f"{room_hint(home, room, app=app)}")
