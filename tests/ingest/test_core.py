"""`ingest_paths` at the size users' folders have: the work per file must not grow with the folder."""

from __future__ import annotations

import sys
from pathlib import Path

from spark_trainer.ingest import IngestOptions, ingest_paths
from spark_trainer.store import projects
from tests.ingest.media import write_image


def _calls_to_ingest(store, folder: Path, project: str) -> int:
    """Python function calls made by one ingestion: a measure of work that, unlike time, does not
    depend on how busy the machine is."""
    calls = 0

    def count(frame, event, arg) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        ingest_paths(store, [folder], project=project, options=IngestOptions(min_image_side=8))
    finally:
        sys.setprofile(None)
    return calls


def _folder(root: Path, n: int) -> Path:
    for i in range(n):
        write_image(root / ("cat" if i % 2 else "dog") / f"{i:04d}.png", size=(8, 8), seed=i)
        if i % 3 == 0:
            (root / ("cat" if i % 2 else "dog") / f"{i:04d}.txt").write_text(f"caption {i}\n", encoding="utf-8")
    return root


def test_the_work_per_file_does_not_grow_with_the_folder(store, tmp_path: Path) -> None:
    """10,000 images took 75 s, most of it comparing every file with every chosen file (a list
    searched once per file: 83 million comparisons). Four times the files is now about four times
    the work, not sixteen."""
    projects.create(store, "p")
    ingest_paths(store, [_folder(tmp_path / "warm", 4)], project="p", options=IngestOptions(min_image_side=8))
    small = _calls_to_ingest(store, _folder(tmp_path / "small", 150), "p")
    large = _calls_to_ingest(store, _folder(tmp_path / "large", 600), "p")
    assert large < 5 * small, f"4x the files took {large / small:.1f}x the calls"


def test_a_file_of_another_kind_beside_a_folder_neither_names_the_dataset_nor_hides_why(store, tmp_path: Path) -> None:
    """`dataset ingest a.csv photos/`: one dataset of the kind most files have (image). It was named 'a',
    after the CSV none of whose rows it holds, and the CSV's reason said to pass --kind (which would
    reject the images instead)."""
    projects.create(store, "p")
    (tmp_path / "a.csv").write_text("text,label\nhello there,1\ngood day,0\n")
    for seed, label in enumerate(("cats", "cats", "dogs", "dogs")):
        write_image(tmp_path / "photos" / label / f"{seed}.png", seed=seed)
    result = ingest_paths(store, [tmp_path / "a.csv", tmp_path / "photos"], project="p")
    assert (result.dataset.kind, result.dataset.name, result.dataset.num_items) == ("image", "photos", 4)
    assert [(r.source, r.reason) for r in result.report.rejected] == [
        ("a.csv", "a text file, and this is an image dataset: ingest text files as a dataset of their own")]


def test_a_caption_whose_image_is_missing_is_named_as_such(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: it was rejected as "a text file, and this is an image dataset: ingest text
    # files as a dataset of their own".
    from PIL import Image

    folder = tmp_path / "caps"
    folder.mkdir()
    for name, colour in (("a", (10, 20, 30)), ("b", (200, 0, 0))):
        Image.new("RGB", (64, 64), colour).save(folder / f"{name}.png")
        (folder / f"{name}.txt").write_text(f"a photo {name}")
    (folder / "orphan.txt").write_text("a caption whose image was renamed")
    result = ingest_paths(store, [folder], project=project)
    (rejected,) = result.report.rejected
    assert rejected.source == "caps/orphan.txt" and rejected.reason == (
        "a caption with no image named 'orphan' beside it (the other .txt files here are captions)")
    assert result.dataset.num_items == 2


def test_the_data_folder_and_a_folder_around_it_are_refused_before_anything_is_read(store, project, tmp_path) -> None:
    """`dataset ingest <the data home>` read its runs, logs and database into a dataset written inside
    the folder being read."""
    import pytest

    from spark_trainer.errors import BadInput
    from spark_trainer.store import datasets

    (store.home.root / "notes.csv").write_text("text,label\nhello,a\n", encoding="utf-8")  # something to read
    with pytest.raises(BadInput, match=r"this is SparkTrainer's data folder; ingest a folder or file of your data$"):
        ingest_paths(store, [store.home.root], project=project)
    with pytest.raises(BadInput, match=r"^.+: holds SparkTrainer's data folder \(.+\); ingest a folder or file"):
        ingest_paths(store, [store.home.root.parent], project=project)
    assert datasets.list_all(store) == []
    # Around it through a hidden folder (~/.local/share/...), the home is left out as any hidden folder is.
    around = tmp_path / "around"
    write_image(around / "cat" / "0.png", size=(8, 8), seed=0)
    write_image(around / "dog" / "1.png", size=(8, 8), seed=1)
    from spark_trainer.store.store import Store

    hidden_home = Store.open(around / ".local" / "home")
    projects.create(hidden_home, "p")
    made = ingest_paths(hidden_home, [around], project="p", options=IngestOptions(min_image_side=8))
    assert made.dataset.num_items == 2


def test_a_link_into_the_data_folder_is_not_followed_into_it(store, project, tmp_path) -> None:
    """A walk: a folder holding a.txt and a link to the data home became a dataset of 68 images copied
    from the home's own datasets/ (452 of its paths read)."""
    import os

    data = tmp_path / "data"
    write_image(data / "cat" / "0.png", size=(8, 8), seed=0)
    write_image(data / "dog" / "1.png", size=(8, 8), seed=1)
    inside = store.home.datasets_dir / "9" / "files"
    write_image(inside / "x.png", size=(8, 8), seed=2)  # an image the home holds
    os.symlink(store.home.root, data / "h")
    made = ingest_paths(store, [data], project=project, options=IngestOptions(min_image_side=8))
    assert made.dataset.num_items == 2
    assert any(r.reason == "inside SparkTrainer's data folder (through a link): not read" for r in made.report.rejected)


def test_a_folder_inside_the_data_folder_given_by_name_is_ingested(store, project) -> None:
    """The demo ingests its sample data from the home's demo-data folder, and a dataset's manifest may be
    ingested again: given by name, a path inside the home is read (only links into it are not)."""
    inside = store.home.root / "demo-data" / "shapes"
    write_image(inside / "cat" / "0.png", size=(8, 8), seed=0)
    write_image(inside / "dog" / "1.png", size=(8, 8), seed=1)
    made = ingest_paths(store, [inside], project=project, options=IngestOptions(min_image_side=8))
    assert made.dataset.num_items == 2 and made.report.rejected == []
