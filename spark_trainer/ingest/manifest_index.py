"""Where a manifest's lines start, so that a far page of rows (`dataset rows --offset N`, the Preview's
pager, the image grid as it scrolls) is read without reading every row before it.

The index keeps the byte offset of every `EVERY`-th line, with the manifest's `ManifestStamp` (size and
modification time), in `manifest.index.json` beside the manifest. It is built on the first far read
(one pass over the bytes, no row parsed) and built again when the manifest is no longer the one it
was made from: a new version of a dataset is a new folder, and a manifest rewritten in place has
another stamp. Each offset is checked against the manifest when used (the byte before it ends a
line), so an index that does not fit is never trusted. One that cannot be written (a read-only
folder) is kept for this read only.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import BinaryIO

from spark_trainer.manifest_fields import ManifestStamp

INDEX = "manifest.index.json"
EVERY = 1024  # lines between two kept offsets: a far page parses none and skips at most this many
BLOCK = 1 << 22  # bytes read at a time while indexing


def seek_line(fh: BinaryIO, manifest: Path, line: int) -> int:
    """Move `fh` (the manifest, opened in binary) to the start of the kept line nearest at or before
    `line` (0-based) and return that line's number; the caller skips the rest."""
    if line < EVERY:
        fh.seek(0)
        return 0
    stamp = ManifestStamp.of(os.fstat(fh.fileno()))
    starts = _load(manifest, stamp)
    if starts is None or not _fits(fh, starts, line):
        starts = _build(fh)
        _save(manifest, stamp, starts)
    at = min(line // EVERY, len(starts) - 1)
    fh.seek(starts[at])
    return at * EVERY


def _fits(fh: BinaryIO, starts: list[int], line: int) -> bool:
    """Whether the offset `line` would use starts a line of this file (a cheap check against an index
    whose stamp matched a different file)."""
    offset = starts[min(line // EVERY, len(starts) - 1)]
    if offset == 0:
        return True
    fh.seek(offset - 1)
    return fh.read(1) == b"\n"


def _build(fh: BinaryIO) -> list[int]:
    """The offsets of lines 0, EVERY, 2 * EVERY ... of `fh`, lines split where the manifest's reader
    splits them (at `\n`; json.dumps writes no other line break). The line breaks of a block are found
    by numpy: a Python loop over every line took longer than the plain scan it replaces."""
    import numpy as np

    fh.seek(0)
    starts, base, lines = [0], 0, 0  # `lines`: lines ended before this block
    while block := fh.read(BLOCK):
        breaks = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
        # the lines that start after a break numbered (from 1) a multiple of EVERY
        starts += (breaks[(-lines - 1) % EVERY::EVERY] + base + 1).tolist()
        base, lines = base + len(block), lines + len(breaks)
    if len(starts) > 1 and starts[-1] == base:
        starts.pop()  # the end of the file, not a line
    return starts


def _load(manifest: Path, stamp: ManifestStamp) -> list[int] | None:
    try:
        kept = json.loads((manifest.parent / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("stamp") != [stamp.size, stamp.mtime_ns] or kept.get("every") != EVERY:
        return None
    starts = kept.get("starts")
    if not isinstance(starts, list) or not starts or starts[0] != 0 or not all(type(s) is int for s in starts):
        return None
    return starts


def _save(manifest: Path, stamp: ManifestStamp, starts: list[int]) -> None:
    path = manifest.parent / INDEX
    partial = path.with_name(f".{INDEX}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        partial.write_text(json.dumps({"stamp": [stamp.size, stamp.mtime_ns], "every": EVERY, "starts": starts}),
                           encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)  # a read-only dataset folder: the index serves this read only
