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


def test_every_class_of_a_class_folder_dataset_is_in_both_splits(store, project, tmp_path: Path) -> None:
    # 42 images of three classes at val_fraction 0.1: the content-hash split held out two foxes and no
    # cat or dog, so accuracy, the best checkpoint and early stopping spoke for one class.
    from spark_trainer.ingest import IngestOptions
    from spark_trainer.ingest.staging import split_of

    root = tmp_path / "pets"
    seed = 0
    for label, n in (("cat", 15), ("dog", 13), ("fox", 14), ("owl", 2)):
        for i in range(n):
            seed += 1
            write_image(root / label / f"{i}.png", seed=seed)
    result = ingest_paths(store, [root], project=project, options=IngestOptions(val_fraction=0.1))
    rows = read_manifest(Path(result.dataset.path))
    splits = {label: {r["split"] for r in rows if r["label"] == label} for label in ("cat", "dog", "fox", "owl")}
    assert splits == {label: {"train", "val"} for label in splits}
    assert result.report.val == sum(r["split"] == "val" for r in rows)
    # Only a class the hash split left out of one side had an item moved, and one item at most.
    hashed = {label: {r["split"] for r in rows if r["label"] == label and r["split"] == split_of(r["sha256"], 0.1)}
              for label in splits}
    moved = [r for r in rows if r["split"] != split_of(r["sha256"], 0.1)]
    assert moved and all(hashed[r["label"]] == {"train", "val"} - {r["split"]} for r in moved)
    assert len({r["label"] for r in moved}) == len(moved)
    # The same folder ingested again splits the same way (the split is still the items' content's).
    again = ingest_paths(store, [root], project=project, options=IngestOptions(val_fraction=0.1), name="pets-2")
    assert [(r["sha256"], r["split"]) for r in read_manifest(Path(again.dataset.path))] == [
        (r["sha256"], r["split"]) for r in rows]


def test_a_column_of_ids_is_not_taken_for_classes(store, project, tmp_path: Path) -> None:
    # A `label` field with a value per row (more values than validation rows expected) keeps the hash split.
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i}", "label": f"id-{i // 2}"}) + "\n" for i in range(200)))
    result = ingest_paths(store, [data], project=project)
    from spark_trainer.ingest.staging import split_of

    rows = read_manifest(Path(result.dataset.path))
    assert all(r["split"] == split_of(r["sha256"], 0.1) for r in rows)


def test_the_classes_of_text_rows_are_read_from_the_label_field_asked_for(store, project, tmp_path: Path) -> None:
    # A run file's `label_column: sentiment` names the classes (submit passes it as `label_field`).
    from spark_trainer.ingest import IngestOptions

    data = tmp_path / "reviews.csv"
    data.write_text("text,sentiment\n" + "".join(f"review number {i} of {c},{c}\n"
                                                 for c in ("good", "bad", "meh") for i in range(6)))
    result = ingest_paths(store, [data], project=project, options=IngestOptions(label_field="sentiment"))
    rows = read_manifest(Path(result.dataset.path))
    assert {c: {r["split"] for r in rows if r["record"]["sentiment"] == c} for c in ("good", "bad", "meh")} == {
        c: {"train", "val"} for c in ("good", "bad", "meh")}


def test_the_card_counts_each_class_in_each_split_and_the_report_names_one_only_validation_holds(
        store, project, tmp_path: Path) -> None:
    # train/{cat,dog} and val/{cat,dog,fox}: the card's "Label distribution" said `fox | 2`, not that both
    # foxes are in validation, so nothing at ingestion said a classifier could never learn the class.
    root = tmp_path / "splitimgs"
    for split, label, n in (("train", "cat", 3), ("train", "dog", 3), ("val", "cat", 1), ("val", "dog", 1),
                            ("val", "fox", 2)):
        for i in range(n):
            write_image(root / split / label / f"{i}.png", seed=hash((split, label, i)) % 10_000)
    result = ingest_paths(store, [root], project=project)
    card = (Path(result.dataset.path) / "README.md").read_text(encoding="utf-8")
    assert "| label | train | val | |\n|---|---:|---:|---|\n| cat | 3 | 1 | " in card
    assert "| dog | 3 | 1 | " in card and "| fox | 0 | 2 | " in card
    note = ("class 'fox' has no training items (2 in validation): a classifier cannot learn it, and the "
            "classification recipes refuse this dataset until you add training items for it or remove it from "
            "validation")
    assert note in result.report.notes and f"> {note}" in card


def test_a_text_datasets_card_counts_its_label_field_in_each_split(store, project, tmp_path: Path) -> None:
    root = tmp_path / "tables"
    root.mkdir()
    (root / "train.csv").write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(6)))
    (root / "validation.csv").write_text("text,label\nvalid a,a\nvalid y,yyy\nvalid z,zzz\nvalid zz,zzz\n")
    result = ingest_paths(store, [root], project=project)
    card = (Path(result.dataset.path) / "README.md").read_text(encoding="utf-8")
    assert "| a | 3 | 1 | " in card and "| b | 3 | 0 | " in card and "| zzz | 0 | 2 | " in card
    assert ("classes 'yyy' (1 in validation), 'zzz' (2 in validation) have no training items: a classifier "
            "cannot learn them") in card
    # A field of one value per row names rows, not classes: no table, no note.
    ids = tmp_path / "ids.jsonl"
    ids.write_text("".join(json.dumps({"text": f"row {i}", "label": f"id-{i}"}) + "\n" for i in range(40)))
    result = ingest_paths(store, [ids], project=project)
    assert "Label distribution" not in (Path(result.dataset.path) / "README.md").read_text(encoding="utf-8")
    assert not result.report.notes


def test_a_class_of_one_item_stays_in_training(store, project, tmp_path: Path) -> None:
    # The content-hash split put the one owl of 31 images in validation: a class no run could learn.
    import hashlib

    from spark_trainer.ingest import IngestOptions
    from spark_trainer.ingest.staging import split_of

    root = tmp_path / "pets"
    owls = []
    for seed in range(200):
        owl = write_image(tmp_path / "owl.png", seed=seed)
        sha = hashlib.sha256(owl.read_bytes()).hexdigest()
        if split_of(sha, 0.3) == "val":  # an owl the hash split holds out
            owls.append(seed)
            break
    assert owls
    write_image(root / "owl" / "0.png", seed=owls[0])
    for label in ("cat", "dog"):
        for i in range(15):
            write_image(root / label / f"{i}.png", seed=1000 + hash((label, i)) % 100_000)
    result = ingest_paths(store, [root], project=project, options=IngestOptions(val_fraction=0.3))
    rows = read_manifest(Path(result.dataset.path))
    assert [r["split"] for r in rows if r["label"] == "owl"] == ["train"]
    assert not any("no training items" in note for note in result.report.notes)


def test_a_label_typed_with_a_composed_or_a_combining_accent_is_one_class_of_the_card(store, project,
                                                                                        tmp_path: Path) -> None:
    # Training reads 'é' and 'e' + U+0301 as one class (label_name's NFC); the ingest's split and card held
    # them out and counted them as two classes that look alike.
    rows = tmp_path / "accents.jsonl"
    labels = ["caf\u00e9", "cafe\u0301", "th\u00e9", "the\u0301"]
    rows.write_text("".join(json.dumps({"text": f"row {i}", "label": labels[i % 4]}) + "\n" for i in range(40)))
    result = ingest_paths(store, [rows], project=project)
    card = (Path(result.dataset.path) / "README.md").read_text(encoding="utf-8")
    assert card.count("| caf\u00e9 | ") == 1 and "cafe\u0301" not in card and card.count("| th\u00e9 | ") == 1
