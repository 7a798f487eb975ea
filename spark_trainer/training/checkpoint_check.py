"""A cheap look at a checkpoint's files before a resume loads them: is any of them cut short?

Checkpoints are published atomically, so a damaged one is damage from outside the run (a disk
error, a copy that stopped half-way, a file truncated or overwritten by hand). Loading it would
fail the resume with a library's bare message ("incomplete metadata, file not fully covered"),
and every later resume again: the run could never continue. Instead the worker sets it aside
(renamed, so it is never "latest" again but nothing is deleted) and resumes from the one before.

The look reads no tensors: a safetensors file's header must cover exactly the file's size, and a
`.pt` file (a zip archive) must have its central directory, which sits at the end of the file.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from spark_trainer.training.checkpoints import STATE_FILE

_MAX_HEADER = 100 * 2**20  # safetensors' own limit on the header's size


def _safetensors_damage(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"{path.name} is {size} bytes long, too short for a safetensors file"
        (length,) = struct.unpack("<Q", head)
        if length > min(_MAX_HEADER, size - 8):
            return f"{path.name} is cut short: its header alone needs {length + 8} bytes, the file has {size}"
        try:
            header = json.loads(fh.read(length))
        except ValueError:
            return f"{path.name} has an unreadable header"
    ends = [entry["data_offsets"][1] for name, entry in header.items()
            if name != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry]
    needed = 8 + length + max(ends, default=0)
    if needed != size:
        return f"{path.name} is cut short: its tensors need {needed} bytes, the file has {size}"
    return None


def _torch_file_damage(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path):
            return None
    except (zipfile.BadZipFile, OSError) as exc:
        return f"{path.name} is damaged ({exc})"


def damage(checkpoint: Path) -> str | None:
    """What is wrong with `checkpoint`'s files (one line naming the file), or None if they look whole."""
    try:
        state = json.loads((checkpoint / STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        return f"{STATE_FILE} is unreadable ({exc})"
    # The files it was written with (recorded since checkpoints list them): one deleted from outside failed
    # every resume with a FileNotFoundError. Older checkpoints list none, and are checked by what they hold.
    listed = state.get("files") if isinstance(state, dict) else None
    missing = [name for name in listed or () if isinstance(name, str) and not (checkpoint / name).is_file()]
    if missing:
        return f"{missing[0]} is missing"
    for path in sorted(checkpoint.iterdir()):
        found = _file_damage(path, (".pt",))
        if found:
            return found
    return None


_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth")


def final_damage(folder: Path) -> str | None:
    """What is wrong with a run's `final/` model folder (one line naming the file), or None if it looks whole.

    The recipe's save_pretrained writes it and no list of its files is kept, so it is judged by what it
    holds: weights, a torch file cut short, a JSON file (config, tokenizer) that does not parse, or no
    weights at all (seen: an imported job's truncated adapter failed `generate --checkpoint final`)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not any(p.suffix in _WEIGHTS for p in files):
        return "it holds no model weights (no .safetensors or .bin file)"
    for path in files:
        found = _file_damage(path, (".bin", ".pt", ".pth"), check_json=True)
        if found:
            return found.replace(path.name, path.relative_to(folder).as_posix(), 1)
    return None


def _file_damage(path: Path, torch_suffixes: tuple[str, ...], *, check_json: bool = False) -> str | None:
    try:
        if path.suffix == ".safetensors":
            return _safetensors_damage(path)
        if path.suffix in torch_suffixes:
            return _torch_file_damage(path)
        if check_json and path.suffix == ".json":
            try:
                json.loads(path.read_bytes())
            except ValueError:
                return f"{path.name} is not valid JSON ({path.stat().st_size} bytes): cut short or overwritten"
        return None
    except OSError as exc:
        return f"{path.name} cannot be read ({exc})"


def set_aside(checkpoint: Path) -> Path:
    """Rename a damaged checkpoint so no resume picks it again (`damaged-step-...`); returns the new path."""
    target = checkpoint.with_name(f"damaged-{checkpoint.name}")
    n = 1
    while target.exists():
        n += 1
        target = checkpoint.with_name(f"damaged-{n}-{checkpoint.name}")
    checkpoint.rename(target)
    return target


def _unreadable_past_latest(run_dir: Path) -> Path | None:
    """The newest checkpoint past the latest one listed whose state.json cannot be read. Which run a
    checkpoint belongs to is read from that file, so the listing skips it as if it were another run's:
    without this the resume went back a checkpoint without a word."""
    from spark_trainer.training.checkpoints import checkpoint_dir, checkpoint_step, is_complete, latest_checkpoint

    latest = latest_checkpoint(run_dir)
    floor = checkpoint_step(latest) if latest is not None else -1
    try:
        found = [p for p in checkpoint_dir(run_dir).iterdir() if is_complete(p) and checkpoint_step(p) > floor]
    except OSError:
        return None
    for path in sorted(found, key=checkpoint_step, reverse=True):
        try:
            json.loads((path / STATE_FILE).read_text())
        except (OSError, ValueError):
            return path
    return None


def set_aside_damaged(run_dir: Path) -> list[str]:
    """Set aside damaged checkpoints from the latest down to the first whole one; returns one line
    per checkpoint set aside, for the run's events."""
    from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint

    notes = []
    while (latest := _unreadable_past_latest(run_dir) or latest_checkpoint(run_dir)) is not None and (
            why := damage(latest)) is not None:
        moved = set_aside(latest)
        before = latest_checkpoint(run_dir)
        instead = f"step {checkpoint_step(before)}" if before is not None else "the start (no whole checkpoint left)"
        notes.append(f"checkpoint {latest.name} is damaged: {why}; it was renamed {moved.name} and the run "
                     f"resumes from {instead}")
    return notes
