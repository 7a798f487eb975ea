"""Serving processes other parts of the app must know about: the scheduler counts the GPU memory
they hold and asks them to unload when a training run is placed on their GPU.

Each live server has `<home>/playground/server-<pid>.json` (written atomically, removed at exit).
A file whose process is gone (or whose pid now belongs to another process) is stale and ignored.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spark_trainer.jobs import portable, process

FOLDER = "playground"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    start_time: float | None
    device: str  # "cpu" or "cuda"
    gpus: list[int] = field(default_factory=list)  # physical GPU ids (CUDA_VISIBLE_DEVICES)
    memory_bytes: int = 0
    run: int | None = None
    checkpoint: str | None = None


def folder(home: Path) -> Path:
    return Path(home) / FOLDER


def info_path(home: Path, pid: int) -> Path:
    return folder(home) / f"server-{pid}.json"


def release_path(home: Path, pid: int) -> Path:
    return folder(home) / f"server-{pid}.release"


@dataclass(frozen=True)
class ReleaseNote:
    """Why a server is asked to go, for its client: `reason` is shown as is; `run_gone` says the run
    whose model it holds was deleted (the client must not offer to load it again)."""

    reason: str
    run_gone: bool = False


def read_release(home: Path, pid: int) -> ReleaseNote:
    """The note left for server `pid` (an empty reason when there is none or it cannot be read)."""
    try:
        found = json.loads(release_path(home, pid).read_text())
        return ReleaseNote(str(found.get("reason", "")).strip(), bool(found.get("run_gone", False)))
    except (OSError, ValueError, AttributeError):
        return ReleaseNote("")


def write(home: Path, info: ServerInfo) -> Path:
    path = info_path(home, info.pid)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(asdict(info)))
    os.replace(staging, path)
    return path


def remove(home: Path, pid: int) -> None:
    for path in (info_path(home, pid), release_path(home, pid)):
        path.unlink(missing_ok=True)


def live(home: Path) -> list[ServerInfo]:
    """Servers whose process is alive; stale files are removed on the way."""
    found = []
    base = folder(home)
    if not base.is_dir():
        return []
    for path in sorted(base.glob("server-*.json")):
        try:
            info = ServerInfo(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue  # being replaced right now, or not ours
        if process.is_alive(info.pid, info.start_time):
            found.append(info)
        else:
            remove(home, info.pid)
    return found


def gpu_memory(home: Path) -> dict[int, int]:
    """Bytes held by serving processes on each GPU (a server on several GPUs counts on each)."""
    held: dict[int, int] = {}
    for info in live(home):
        for gpu in info.gpus:
            held[gpu] = held.get(gpu, 0) + info.memory_bytes
    return held


def release(home: Path, gpus: Iterable[int], reason: str, *, wait_s: float = 5.0) -> list[ServerInfo]:
    """Ask every server on any of `gpus` to unload and exit (a release note with `reason` for its client,
    which it polls, and SIGTERM on POSIX);
    wait up to `wait_s` for them to go. Returns the servers asked."""
    wanted = set(gpus)
    return _ask([info for info in live(home) if wanted & set(info.gpus)], home, ReleaseNote(reason), wait_s)


def release_deleted_run(home: Path, run_id: int, *, wait_s: float = 5.0) -> list[ServerInfo]:
    """Ask the servers holding `run_id`'s model to unload and exit, telling their clients the run is
    gone (it was deleted: its weights would otherwise stay in memory, on a GPU perhaps, for a run that
    no longer exists, and the client would offer to load it again)."""
    note = ReleaseNote(f"run {run_id} was deleted", run_gone=True)
    return _ask([info for info in live(home) if info.run == run_id], home, note, wait_s)


def _ask(asked: list[ServerInfo], home: Path, note: ReleaseNote, wait_s: float) -> list[ServerInfo]:
    for info in asked:
        release_path(home, info.pid).write_text(json.dumps(asdict(note)))
        if not portable.posix_signals():
            continue  # Windows: os.kill would be TerminateProcess, no "unloaded" for the client; the note asks
        try:
            os.kill(info.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait_s
    for info in asked:
        process.wait_gone(info.pid, info.start_time, max(0.0, deadline - time.monotonic()))
    return asked
