"""A dataset's counts as its manifest is now, not only as ingestion left it.

Ingestion stores with a dataset its item and split counts, its version (the SHA-256 of
`manifest.jsonl`) and per-field counts with the manifest's stamp (`manifest_fields`). Training
reads the manifest as it is on disk, so a manifest cut or edited by hand in the data home trained
on its rows while `dataset show`, the table and the settings advice went on counting the ingested
ones. A manifest whose stamp changed is counted again, once per edit (`counted`); when its bytes
changed too, the dataset's counts and version become the manifest's, and `meta["edited"]` keeps what
ingestion recorded, so every view says the manifest was edited by hand (`manifest_note`). Putting the
ingested bytes back clears it. A line training refuses (not JSON, not a JSON object) leaves the last
counts, and the note names the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_trainer.errors import StoreError
from spark_trainer.manifest_fields import ManifestStamp, count_manifest, describes
from spark_trainer.store import datasets
from spark_trainer.store.entities import Dataset, utcnow
from spark_trainer.store.models import DatasetRow
from spark_trainer.store.store import Store

MANIFEST = "manifest.jsonl"
EDITED = "edited"  # meta key: what ingestion recorded, kept while the manifest differs from it


def counted(store: Store, dataset: Dataset) -> dict[str, Any] | None:
    """The per-field summary of `dataset`'s manifest as it is now (`FieldTally.summary`): the one
    stored with it, or, when the manifest changed since (or none was stored), the manifest counted now
    and stored with the dataset (`store_count`). Reads the whole manifest then, so the GUI asks this on
    a pool thread. None when the manifest cannot be read."""
    manifest = Path(dataset.path) / MANIFEST
    try:
        stamp = ManifestStamp.of(manifest.stat())
    except OSError:
        return None
    summary = (dataset.meta or {}).get("fields")
    if describes(summary, stamp):
        return summary
    stored = (datasets.meta_of(store, dataset.id) or {}).get("fields")
    if describes(stored, stamp):  # another check counted it since `dataset` was read
        return stored
    try:
        summary = count_manifest(manifest)  # a line that is not a JSON object: known for this version
    except (OSError, UnicodeDecodeError):
        return None
    try:
        store_count(store, dataset.id, summary, expected=stored, path=str(dataset.path))
    except StoreError:  # locked, a full disk, a read-only database: this is a read, and its answer stands
        pass  # the counts are right all the same; the next check counts again and stores them then
    return summary


def current(store: Store, dataset: Dataset) -> Dataset:
    """`dataset` as stored once its manifest is counted as it is now (see `counted`); itself when the
    manifest is as recorded, or cannot be read at all (gone, not UTF-8)."""
    before = (dataset.meta or {}).get("fields")
    summary = counted(store, dataset)
    if summary is None or summary is before:
        return dataset
    try:
        return datasets.get(store, dataset.id)
    except StoreError:
        return dataset


def store_count(store: Store, dataset_id: int, summary: dict[str, Any], *, expected: Any, path: str) -> bool:
    """Store `summary` (a manifest counted now) as the dataset's `meta["fields"]` if that still holds
    `expected` and the dataset is still at `path` (a compare-and-set: a count stored meanwhile by
    another process is never overwritten with an older one). A summary with the manifest's SHA-256 that
    is not the dataset's version (edited by hand) also sets its version and item and split counts, and
    `meta["edited"]` keeps the ingested ones. True when written."""
    with store.write() as session:  # BEGIN IMMEDIATE: the check and the write see no other writer between them
        row = session.get(DatasetRow, dataset_id)
        if row is None or row.path != path or (row.meta or {}).get("fields") != expected:
            return False
        meta = {**(row.meta or {}), "fields": summary}  # a new dict: the JSON column sees the change
        version, splits = summary.get("sha256"), summary.get("splits")
        if row.version and isinstance(version, str) and isinstance(splits, dict) and version != row.version:
            ingested = meta.get(EDITED) or {"version": row.version, "items": row.num_items,
                                            "train": row.num_train, "val": row.num_val}
            if version == ingested["version"]:  # the ingested bytes put back
                meta.pop(EDITED, None)
            else:
                meta[EDITED] = {**ingested, "noticed_at": utcnow().isoformat(timespec="seconds")}
            row.version, row.num_items = version, int(summary["rows"])
            row.num_train, row.num_val = int(splits.get("train", 0)), int(splits.get("val", 0))
        row.meta = meta
        return True


def manifest_note(dataset: Dataset) -> str | None:
    """One line for a dataset whose manifest was edited by hand since ingestion (see `current`), or
    that has a line training refuses, or whose manifest is gone; None for a manifest as ingested."""
    manifest = Path(dataset.path) / MANIFEST
    if not manifest.is_file():
        return (f"{manifest} is gone (deleted or moved by hand): runs on this dataset fail until it is put back; "
                "the counts here are the last ones read")
    meta = dataset.meta or {}
    fields = meta.get("fields")
    if isinstance(fields, dict) and fields.get("unreadable") is True:
        where = f"line {fields['line']}" if isinstance(fields.get("line"), int) else "a line"
        why = fields.get("why") or "is not a JSON object"
        return (f"manifest.jsonl was edited outside the app and its {where} {why}: runs on this dataset fail "
                "until that line is mended or removed; the counts here are the last ones read")
    ingested = meta.get(EDITED)
    if not isinstance(ingested, dict):
        return None
    return (f"manifest.jsonl was edited outside the app since ingestion: runs train on its {dataset.num_items:,} "
            f"items (train {dataset.num_train:,}, val {dataset.num_val:,}); ingestion kept "
            f"{ingested.get('items', 0):,} (train {ingested.get('train', 0):,}, val {ingested.get('val', 0):,}), "
            f"version {str(ingested.get('version', ''))[:12]}")
