"""Ingestion rejects a broken symlink as that one entry and keeps the rest (issue 14, item 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from spark_trainer.ingest import ingest_paths, read_manifest
from tests.ingest.media import write_image

pytestmark = pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")


def test_symlink_loop_and_dangling_link_are_rejected_one_by_one(store, project, tmp_path: Path, cli) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in range(2):
        (folder / f"{f}.jsonl").write_text("".join(json.dumps({"text": f"{f}-{i}"}) + "\n" for i in range(10)))
    (folder / "loop-a.jsonl").symlink_to(folder / "loop-b.jsonl")
    (folder / "loop-b.jsonl").symlink_to(folder / "loop-a.jsonl")
    (folder / "gone.jsonl").symlink_to(tmp_path / "deleted.jsonl")
    (folder / "good-link.jsonl").symlink_to(folder / "0.jsonl")

    result = ingest_paths(store, [folder], project=project)
    reasons = {r.source: r.reason for r in result.report.rejected}
    assert reasons["corpus/loop-a.jsonl"] == reasons["corpus/loop-b.jsonl"] == "symbolic link loop"
    assert reasons["corpus/gone.jsonl"].startswith("dangling symbolic link")
    assert result.dataset.num_items == 20  # both real files; the good link repeats 0.jsonl (duplicates)

    shown = cli("dataset", "ingest", str(folder), "--project", project, "--name", "again")
    assert shown.code == 0, shown.err
    assert "loop-a.jsonl" in shown.out + shown.err and "Traceback" not in shown.err


def test_a_class_folder_linked_in_from_elsewhere_is_read_and_a_folder_loop_reported(store, project,
                                                                                     tmp_path: Path) -> None:
    write_image(tmp_path / "elsewhere" / "cats" / "c0.png", seed=1)
    write_image(tmp_path / "pets" / "dogs" / "d0.png", seed=2)
    (tmp_path / "pets" / "cats").symlink_to(tmp_path / "elsewhere" / "cats")
    (tmp_path / "pets" / "dogs" / "back up").symlink_to(tmp_path / "pets")
    result = ingest_paths(store, [tmp_path / "pets"], project=project)
    rows = read_manifest(Path(result.dataset.path))
    assert sorted((r["source"], r["label"]) for r in rows) == [("pets/cats/c0.png", "cats"), ("pets/dogs/d0.png", "dogs")]
    assert [(r.source, r.reason) for r in result.report.rejected] == [
        ("pets/dogs/back up", "symbolic link loop (a folder already read)")]


def test_a_link_to_a_class_folder_inside_the_given_folder_leaves_the_folder_its_own_name(store, project,
                                                                                         tmp_path: Path) -> None:
    """`pets/all` linking to `pets/cats`: the link sorts first, so it was read (every cat labelled
    'all') and the real `pets/cats` was refused as a 'symbolic link loop'."""
    write_image(tmp_path / "pets" / "cats" / "c0.png", seed=1)
    write_image(tmp_path / "pets" / "dogs" / "d0.png", seed=2)
    (tmp_path / "pets" / "all").symlink_to(tmp_path / "pets" / "cats")
    result = ingest_paths(store, [tmp_path / "pets"], project=project)
    rows = read_manifest(Path(result.dataset.path))
    assert sorted((r["source"], r["label"]) for r in rows) == [("pets/cats/c0.png", "cats"), ("pets/dogs/d0.png", "dogs")]
    assert [(r.source, r.reason) for r in result.report.rejected] == [
        ("pets/all", "symbolic link to pets/cats, a folder read in its own place")]
