"""Datasets that come split already (Kaggle's train/ and test/ folders, the Hub's train.csv and
validation.csv) keep their split; a lone train.jsonl is only a name."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.ingest import ingest_paths, read_manifest
from tests.ingest.media import write_image


def test_train_and_test_folders_keep_their_split(store, project, tmp_path: Path) -> None:
    root = tmp_path / "kaggle"
    for split, n in (("train", 6), ("test", 2)):
        for label in ("cat", "dog"):
            for i in range(n):
                write_image(root / split / label / f"{i}.png", seed=hash((split, label, i)) % 10_000)
    result = ingest_paths(store, [root], project=project)
    rows = read_manifest(Path(result.dataset.path))
    assert {(r["source"].split("/")[1], r["split"]) for r in rows} == {("train", "train"), ("test", "val")}
    assert {r["label"] for r in rows} == {"cat", "dog"}
    assert (result.report.train, result.report.val) == (12, 4)
    assert any(n.startswith("split kept as given by test/, train/") for n in result.report.notes)


def test_hub_style_split_files_keep_their_split(store, project, tmp_path: Path) -> None:
    root = tmp_path / "hub"
    root.mkdir()
    (root / "train.csv").write_text("text,label\n" + "".join(f"train row {i},a\n" for i in range(20)))
    (root / "validation.csv").write_text("text,label\n" + "".join(f"held out {i},b\n" for i in range(3)))
    rows = read_manifest(Path(ingest_paths(store, [root], project=project).dataset.path))
    assert sorted({(r["source"].split(":")[0], r["split"]) for r in rows}) == [
        ("hub/train.csv", "train"), ("hub/validation.csv", "val")]


def test_a_lone_train_file_takes_the_usual_split(store, project, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(100)))
    result = ingest_paths(store, [data], project=project)
    assert 3 < result.report.val < 25 and not result.report.notes


def test_images_right_in_split_folders_have_no_class(store, project, tmp_path: Path) -> None:
    # train/1.png and val/1.png were labelled "train" and "val": an image classifier then learnt to
    # tell the training images from the held-out ones.
    root = tmp_path / "photos"
    for split in ("train", "val"):
        for i in range(3):
            write_image(root / split / f"{i}.png", seed=hash((split, i)) % 10_000)
    write_image(root / "test" / "cat" / "0.png", seed=7)
    result = ingest_paths(store, [root], project=project)
    labels = {r["source"]: r["label"] for r in read_manifest(Path(result.dataset.path))}
    assert labels == {**{f"photos/{s}/{i}.png": None for s in ("train", "val") for i in range(3)},
                      "photos/test/cat/0.png": "cat"}
