"""Dataset names derived from paths: a file or folder named with digits only still ingests."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import datasets


def test_a_path_named_with_digits_only_gets_a_name_that_is_not_an_id(store, project, tmp_path: Path) -> None:
    # It was refused ("dataset name '2024' is all digits ...; add a letter"), and a run file
    # (`dataset: data/2024.jsonl`) has no field to add one.
    data = tmp_path / "2024.jsonl"
    data.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    folder = tmp_path / "7"
    folder.mkdir()
    (folder / "rows.jsonl").write_text('{"text": "three"}\n', encoding="utf-8")
    first = ingest_paths(store, [data], project=project).dataset
    second = ingest_paths(store, [folder], project=project).dataset
    assert (first.name, second.name) == ("dataset-2024", "dataset-7")
    assert datasets.get(store, "dataset-2024", project).id == first.id
