"""A failed or cancelled ingestion leaves no dataset row and no folder behind."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from spark_trainer.errors import OperationFailed
from spark_trainer.ingest import IngestCancelled, ingest_paths
from spark_trainer.store import datasets
from tests.ingest.conftest import leftovers
from tests.ingest.media import write_image


def _corpus(folder: Path, files: int = 3) -> Path:
    folder.mkdir()
    for f in range(files):
        (folder / f"{f}.jsonl").write_text("".join(json.dumps({"text": f"{f}-{i}"}) + "\n" for i in range(20)))
    return folder


def test_final_rename_failing_leaves_no_row_and_no_folder(store, project, tmp_path, monkeypatch) -> None:
    real_replace = os.replace

    def replace(src, dst):
        if Path(src).name.startswith(".staging-"):
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(datasets.os, "replace", replace)
    with pytest.raises(OperationFailed, match="No space left on device"):
        ingest_paths(store, [_corpus(tmp_path / "c")], project=project)
    assert leftovers(store) == ([], [])


def test_home_becoming_unwritable_mid_way_leaves_nothing(store, project, tmp_path) -> None:
    """Images are copied one by one; the staging folder's files/ becomes a plain file mid-way."""
    root = tmp_path / "imgs"
    for i in range(4):
        write_image(root / f"{i}.png", seed=i)

    def sabotage(p) -> None:
        if p.done == 2:
            staging = next(store.home.datasets_dir.glob(".staging-*"))
            files = staging / "files"
            for child in files.iterdir():
                child.unlink()
            files.rmdir()
            files.write_bytes(b"")  # later copies into files/ now fail with an OS error

    with pytest.raises(OperationFailed, match="nothing was saved"):
        ingest_paths(store, [root], project=project, progress=sabotage)
    assert leftovers(store) == ([], [])


def test_commit_failing_after_rename_moves_folder_back_and_removes_it(store, project, tmp_path, monkeypatch) -> None:
    real = datasets._entity

    def broken(row, name):
        raise RuntimeError("database went away")

    monkeypatch.setattr(datasets, "_entity", broken)
    with pytest.raises(RuntimeError):
        ingest_paths(store, [_corpus(tmp_path / "c")], project=project)
    monkeypatch.setattr(datasets, "_entity", real)
    assert leftovers(store) == ([], [])


def test_cancel_leaves_nothing(store, project, tmp_path) -> None:
    cancel = threading.Event()
    seen = []

    def progress(p) -> None:
        seen.append(p)
        if p.done == 1:
            cancel.set()

    with pytest.raises(IngestCancelled):
        ingest_paths(store, [_corpus(tmp_path / "c")], project=project, progress=progress, cancel=cancel)
    assert leftovers(store) == ([], [])
    assert seen[0].total == 3 and seen[0].current == "c/0.jsonl"


def test_a_stale_folder_with_the_new_id_is_moved_aside(store, project, tmp_path) -> None:
    store.home.dataset_dir(1).mkdir(parents=True)
    (store.home.dataset_dir(1) / "old.txt").write_text("kept by dataset delete without --delete-files")
    result = ingest_paths(store, [_corpus(tmp_path / "c")], project=project)
    assert result.dataset.id == 1 and (Path(result.dataset.path) / "manifest.jsonl").is_file()
    assert [p.name for p in store.home.datasets_dir.glob("1.orphan-*/old.txt")] == ["old.txt"]
