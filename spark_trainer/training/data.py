"""Reading training records: a JSONL file, or an ingested dataset folder with `manifest.jsonl`.

Records are the user's original objects (`{"text": ..}`, `{"prompt": .., "completion": ..}` or
`{"messages": [..]}`), each tagged with where it came from so that errors can name the line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spark_trainer.errors import BadInput

T = TypeVar("T")


@dataclass(frozen=True)
class Record:
    data: dict[str, Any]
    source: str  # "file.jsonl:3", for error messages
    split: str  # "train" or "val"


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    return list(_jsonl_rows(path))


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-empty line, read as a stream."""
    try:
        handle = path.open("r", encoding="utf-8-sig")  # Windows tools start files with a BOM
    except OSError as exc:
        raise BadInput(f"cannot read dataset {path}: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}: line {number} is not JSON ({exc.msg})") from None


def manifest_objects(manifest: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of each non-blank line of a dataset's manifest, read as a stream.

    Raises:
        BadInput: naming the line that is not JSON, or not a JSON object (a manifest edited by hand).
    """
    for number, row in _jsonl_rows(manifest):
        if not isinstance(row, dict):
            raise BadInput(f"{manifest}: line {number} is not a JSON object")
        yield number, row


def dataset_records(folder: Path) -> Iterator[Record]:
    """The text records of an ingested dataset folder with the split ingestion gave them, read as a
    stream (the 1M rows of a 1 GB manifest held as records took 2.5 GB)."""
    manifest = Path(folder) / "manifest.jsonl"
    if not manifest.is_file():
        raise BadInput(f"dataset folder {folder} has no manifest.jsonl")
    for number, row in manifest_objects(manifest):
        if not isinstance(row.get("record"), dict):
            continue  # non-text rows (images, videos) belong to other recipes
        source = str(row.get("source") or f"{manifest.name}:{number}")
        yield Record(row["record"], source, "val" if row.get("split") == "val" else "train")


def in_batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """`records` in lists of `size` (the last one shorter), read as they come: a recipe tokenizes a
    dataset a batch at a time without holding its records."""
    stream = iter(records)
    while chunk := list(itertools.islice(stream, size)):
        yield chunk


def evaluated_rows(val: Sequence[T], most: int | None) -> tuple[Sequence[T], str | None]:
    """The validation rows every evaluation runs on (`recipe_config.eval_max_rows`): `most` of them
    spread evenly over the split (a split sorted by topic or length is not cut to its start), the same
    each time; all of them when `most` is None or no smaller. With a line for the run's log when cut."""
    if most is None or len(val) <= most:
        return val, None
    note = (f"evaluating on {most:,} of the {len(val):,} validation examples, the same ones every time "
            "(recipe_config.eval_max_rows)")
    return [val[i * len(val) // most] for i in range(most)], note


def content_hash(data: Any, *, ascii_escaped: bool = False) -> str:
    """SHA-256 of `data` as JSON with sorted keys. `ascii_escaped`: non-ASCII text written as \\uXXXX,
    as the CSV rows of image paths were always hashed (`image_rows`); either way is kept where it was
    used, so that no existing dataset's split moves."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=ascii_escaped).encode()).hexdigest()


def hash_split(data: Any, val_fraction: float, *, ascii_escaped: bool = False) -> str:
    """"val" or "train" for a row, from its content alone: the same rows split the same way every run."""
    fraction = int(content_hash(data, ascii_escaped=ascii_escaped)[:15], 16) / 16**15
    return "val" if fraction < val_fraction else "train"


def read_records(data_path: Path, val_fraction: float) -> list[Record]:
    """All records with their split; a plain JSONL file is split by content hash (deterministic).

    Raises:
        BadInput: unreadable file, a line that is not JSON, a row that is not an object, or no rows.
    """
    data_path = Path(data_path)
    if data_path.is_dir():
        records = list(dataset_records(data_path))
    else:
        records = []
        for number, row in _read_jsonl(data_path):
            if not isinstance(row, dict):
                raise BadInput(f"{data_path}: line {number} is not a JSON object")
            records.append(Record(row, f"{data_path.name}:{number}", hash_split(row, val_fraction)))
        if val_fraction > 0 and len(records) >= 2 and not any(r.split == "val" for r in records):
            # Too few rows for the hash split to hold one out: hold out the lowest-hash row.
            first = min(range(len(records)), key=lambda i: content_hash(records[i].data))
            records[first] = Record(records[first].data, records[first].source, "val")
    require_rows(data_path, len(records), sum(r.split == "train" for r in records))
    return records


def require_rows(data_path: Path, total: int, train: int) -> None:
    """BadInput unless `data_path` held a record (`total`) and one of them is for training."""
    if not total:
        raise BadInput(f"dataset {data_path} is empty: no text rows found")
    if not train:
        raise BadInput(f"dataset {data_path} has no training rows (all {total} are validation)")
