"""What an export wrote (file names, sizes and a cheap fingerprint, recorded with it) and whether its
folder still holds exactly that: an export is reused, or pushed, only when it is whole and unchanged.

The fingerprint hashes a small file whole and a large one's first, middle and last MiB, so checking a
70B merged export reads a few MiB, not the weights.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

CARD_NAME = "README.md"
# The card is the user's to edit (its `license:` says to choose one before sharing): it must be there,
# its content may change.
EDITABLE = frozenset({CARD_NAME})
_CHUNK = 1 << 20


def fingerprint(path: Path) -> list[Any]:
    """[size, hash of its content (a large file: three 1 MiB samples)]."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with path.open("rb") as f:
        if size <= 3 * _CHUNK:
            return fingerprint_of(f.read())
        for offset in (0, size // 2, size - _CHUNK):
            f.seek(offset)
            digest.update(f.read(_CHUNK))
    return [size, digest.hexdigest()]


def fingerprint_of(data: bytes) -> list[Any]:
    """The fingerprint of a file holding `data` (of at most 3 MiB, hashed whole)."""
    digest = hashlib.blake2b(str(len(data)).encode(), digest_size=16)
    digest.update(data)
    return [len(data), digest.hexdigest()]


def manifest(folder: Path) -> dict[str, list[Any]]:
    """Every file of `folder` (relative POSIX name) -> its fingerprint."""
    return {p.relative_to(folder).as_posix(): fingerprint(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def damage(options: dict[str, Any], folder: Path) -> str | None:
    """Why the export recorded with `options` no longer is what was written in `folder`, or None when it is
    whole and unchanged (its card may have been edited). An export recorded before fingerprints were kept
    is checked by its file names."""
    if not folder.is_dir():
        return "its folder is missing"
    recorded: dict[str, list[Any]] | None = options.get("manifest")
    if recorded is None:
        recorded = {name: [] for name in options.get("files") or [CARD_NAME]}
    for name in sorted(recorded, key=lambda n: (n != CARD_NAME, n)):
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        expected = recorded[name]
        if not expected:
            continue
        if name in EDITABLE:
            if path.stat().st_size == 0:
                return f"{name} is empty"
            continue
        if path.stat().st_size != expected[0]:
            return f"{name} changed size ({path.stat().st_size} bytes, {expected[0]} when exported)"
        if fingerprint(path) != list(expected):
            return f"{name} was changed since it was exported"
    return None
