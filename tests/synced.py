"""Which files reached the disk before a folder was renamed into place: os.fsync and os.replace
(Path.replace too) recorded in order, and the check that a published folder was made durable first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def record_syncs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Record ('fsync', path, '') for each fsync and ('rename', source, target) for each os.replace."""
    events: list[tuple[str, str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), ""))
        real_fsync(fd)

    def replace(src, dst, *args, **kwargs) -> None:
        real_replace(src, dst, *args, **kwargs)
        events.append(("rename", os.path.realpath(src) if os.path.exists(src) else os.path.abspath(src),
                       os.path.realpath(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def unsynced_before_publishing(events: list[tuple[str, str, str]], published: Path) -> list[str]:
    """What a power loss could leave empty or missing in `published` (a folder renamed into place): its
    files and folders not fsynced (under their staging name) before the rename, and its parent folder not
    fsynced after it. Empty when it was published durably."""
    target = os.path.realpath(published)
    renames = [i for i, (kind, _, dst) in enumerate(events) if kind == "rename" and dst == target]
    if not renames:
        return [f"{published} was never renamed into place"]
    at = renames[-1]
    staging = Path(events[at][1])
    before = {path for kind, path, _ in events[:at] if kind == "fsync"}
    missing = [str(p.relative_to(published)) for p in sorted(published.rglob("*"))
               if str(staging / p.relative_to(published)) not in before]
    if str(staging) not in before:
        missing.append("the folder itself")
    if os.path.realpath(published.parent) not in {path for kind, path, _ in events[at:] if kind == "fsync"}:
        missing.append("its parent, after the rename")
    return missing
