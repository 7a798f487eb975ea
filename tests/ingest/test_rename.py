"""Renaming a dataset retitles its card (README.md) where the card still has ingestion's heading; a
card edited by hand is left alone, and one that cannot be read or written is said, the rename standing."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.ingest.rename import rename_dataset
from spark_trainer.store import datasets, projects
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.store import Store


def _dataset_with_card(store: Store, card: str | None) -> datasets.Dataset:
    projects.create(store, "demo")
    folder = store.home.dataset_dir(datasets.next_id(store))
    folder.mkdir(parents=True)
    if card is not None:
        (folder / "README.md").write_text(card)
    return datasets.create(store, "demo", NewDataset(name="imgs-v2-final", kind="text", path=str(folder)))


def test_the_heading_follows_the_name_and_the_rest_is_kept(store: Store) -> None:
    made = _dataset_with_card(store, "# imgs-v2-final\n\n- kind: text\n")
    renamed = rename_dataset(store, "imgs-v2-final", "flowers")
    assert (renamed.old_name, renamed.dataset.name, renamed.card_note) == ("imgs-v2-final", "flowers", "")
    assert (Path(made.path) / "README.md").read_text() == "# flowers\n\n- kind: text\n"


def test_a_card_with_another_heading_or_none_is_left_alone(store: Store) -> None:
    made = _dataset_with_card(store, "# My flowers, curated\n")
    assert rename_dataset(store, made.id, "flowers").card_note == ""
    assert (Path(made.path) / "README.md").read_text() == "# My flowers, curated\n"
    (Path(made.path) / "README.md").unlink()
    assert rename_dataset(store, made.id, "roses").card_note == ""
    assert not (Path(made.path) / "README.md").exists()


def test_an_unreadable_card_is_said_and_the_rename_stands(store: Store) -> None:
    made = _dataset_with_card(store, None)
    (Path(made.path) / "README.md").mkdir()  # not a file: reading it fails
    renamed = rename_dataset(store, "imgs-v2-final", "flowers")
    assert renamed.card_note.startswith(f"the card {Path(made.path) / 'README.md'} still says 'imgs-v2-final': ")
    assert datasets.get(store, made.id).name == "flowers"
