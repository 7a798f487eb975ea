"""A dataset's counts follow its manifest: a manifest edited by hand in the data home is counted again,
and the dataset says so."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import dataset_counts, datasets, projects
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.store import Store


def _text_dataset(store: Store, tmp_path: Path, rows: int = 40) -> datasets.Dataset:
    projects.get_or_create(store, "p")
    source = tmp_path / "notes.jsonl"
    source.write_text("".join(json.dumps({"text": f"note number {i}"}) + "\n" for i in range(rows)))
    return ingest_paths(store, [source], project="p").dataset


def _manifest(dataset: datasets.Dataset) -> Path:
    return Path(dataset.path) / "manifest.jsonl"


def test_a_manifest_cut_by_hand_gives_the_dataset_its_counts_and_version(store: Store, tmp_path: Path) -> None:
    """Training read the cut manifest while `dataset show`, the table and the settings advice counted the
    ingested rows, and the version was no longer the manifest's SHA-256."""
    ingested = _text_dataset(store, tmp_path)
    assert ingested.meta["fields"]["splits"] == {"train": ingested.num_train, "val": ingested.num_val}
    assert ingested.meta["fields"]["sha256"] == ingested.version == hashlib.sha256(
        _manifest(ingested).read_bytes()).hexdigest()
    assert dataset_counts.current(store, ingested) == ingested  # as ingested: nothing read, nothing written
    original = _manifest(ingested).read_bytes()
    lines = original.splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["split"] == "val"] + [
        line for line in lines if json.loads(line)["split"] == "train"][:25]
    _manifest(ingested).write_bytes(b"".join(kept))

    now = dataset_counts.current(store, datasets.get(store, ingested.id))
    assert (now.num_items, now.num_train, now.num_val) == (25 + ingested.num_val, 25, ingested.num_val)
    assert now.version == hashlib.sha256(b"".join(kept)).hexdigest()
    assert datasets.get(store, ingested.id) == now  # stored: every view reads it
    edited = now.meta["edited"]
    assert {k: edited[k] for k in ("version", "items", "train", "val")} == {
        "version": ingested.version, "items": 40, "train": ingested.num_train, "val": ingested.num_val}
    note = dataset_counts.manifest_note(now)
    assert note.startswith(f"manifest.jsonl was edited outside the app since ingestion: runs train on its "
                           f"{now.num_items} items (train 25, val {now.num_val}); ingestion kept 40 "), note
    assert dataset_counts.current(store, now) == now  # counted once per edit

    _manifest(ingested).write_bytes(b"".join(kept[:-5]))  # edited again: ingestion's counts are still kept
    again = dataset_counts.current(store, now)
    assert again.num_train == 20 and again.meta["edited"]["items"] == 40

    _manifest(ingested).write_bytes(original)  # the ingested bytes put back: nothing says edited any more
    back = dataset_counts.current(store, again)
    assert (back.num_items, back.num_train, back.num_val, back.version) == (
        40, ingested.num_train, ingested.num_val, ingested.version)
    assert "edited" not in back.meta and dataset_counts.manifest_note(back) is None


def test_a_manifest_counted_again_unchanged_is_not_called_edited(store: Store, tmp_path: Path) -> None:
    """A manifest touched (copied, a home moved without its times) or counts stored before the splits
    were: counted again, and the same bytes are no edit."""
    ingested = _text_dataset(store, tmp_path, rows=12)
    from spark_trainer.store.models import DatasetRow

    with store.write() as session:
        row = session.get(DatasetRow, ingested.id)
        row.meta = {**row.meta, "fields": {k: v for k, v in row.meta["fields"].items() if k not in ("splits", "sha256")}}
    _manifest(ingested).touch()
    now = dataset_counts.current(store, datasets.get(store, ingested.id))
    assert "edited" not in now.meta and now.meta["fields"] == {**ingested.meta["fields"], **now.meta["fields"]}
    assert (now.num_items, now.num_train, now.num_val, now.version) == (
        12, ingested.num_train, ingested.num_val, ingested.version)


def test_a_line_training_refuses_keeps_the_last_counts_and_the_note_names_it(store: Store, tmp_path: Path) -> None:
    """A line that is not a JSON object kept the counts of an earlier version, unsaid, while training
    skipped it without a word (it refuses it now, naming the line)."""
    from spark_trainer.errors import BadInput
    from spark_trainer.training.data import dataset_records

    ingested = _text_dataset(store, tmp_path, rows=10)
    manifest = _manifest(ingested)
    original = manifest.read_bytes()
    manifest.write_bytes(original + b"[1, 2]\n")
    now = dataset_counts.current(store, ingested)
    assert (now.num_items, now.version) == (10, ingested.version) and "edited" not in now.meta
    assert now.meta["fields"]["unreadable"] is True
    assert dataset_counts.manifest_note(now) == (
        "manifest.jsonl was edited outside the app and its line 11 is not a JSON object: runs on this dataset "
        "fail until that line is mended or removed; the counts here are the last ones read")
    with pytest.raises(BadInput, match=r"manifest.jsonl: line 11 is not a JSON object$"):
        list(dataset_records(Path(ingested.path)))
    manifest.write_bytes(original + b"\n")  # an editor's blank last line: counted as training reads it
    mended = dataset_counts.current(store, now)
    assert mended.num_items == 10 and len(list(dataset_records(Path(ingested.path)))) == 10
    manifest.unlink()
    assert dataset_counts.current(store, mended) == mended
    assert dataset_counts.manifest_note(mended) == (
        f"{manifest} is gone (deleted or moved by hand): runs on this dataset fail until it is put back; the "
        "counts here are the last ones read")  # not "runs train on its 10 items"


def test_a_dataset_recorded_without_a_version_is_counted_but_not_called_edited(store: Store, tmp_path: Path) -> None:
    projects.create(store, "p")
    folder = tmp_path / "made"
    folder.mkdir()
    (folder / "manifest.jsonl").write_text('{"split": "val", "record": {"text": "a"}}\n{"record": {"text": "b"}}\n')
    made = datasets.create(store, "p", NewDataset(name="made", kind="text", path=str(folder), num_items=5))
    now = dataset_counts.current(store, made)
    assert now.num_items == 5 and "edited" not in now.meta
    assert now.meta["fields"]["splits"] == {"train": 1, "val": 1}


def test_counts_stored_meanwhile_by_another_writer_are_not_overwritten(store: Store, tmp_path: Path) -> None:
    full = _text_dataset(store, tmp_path, rows=4)
    newer = {**full.meta["fields"], "rows": 99}  # what another process stored after this one looked
    assert not dataset_counts.store_count(store, full.id, newer, expected=None, path=full.path)
    assert datasets.get(store, full.id).meta["fields"] == full.meta["fields"]
    assert not dataset_counts.store_count(store, full.id, newer, expected=full.meta["fields"], path="/elsewhere")
    assert dataset_counts.store_count(store, full.id, newer, expected=full.meta["fields"], path=full.path)
    assert datasets.get(store, full.id).meta == {**full.meta, "fields": newer}  # the rest of meta kept
