"""Text rows that name images (a CSV/JSONL given as an image run's dataset), read by image_rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.delimited import CELL_CHARS
from spark_trainer.errors import BadInput
from spark_trainer.recipes.image_rows import read_text_rows


def test_a_csv_cell_over_the_reader_limit_is_one_line_naming_the_file_and_line(tmp_path: Path) -> None:
    """A caption cell of 17 MB ended `train` (and the run's data check) with csv's traceback."""
    data = tmp_path / "pairs.csv"
    data.write_text("path,caption\na.png,a red square\nb.png," + "z" * (CELL_CHARS + 1) + "\n")
    with pytest.raises(BadInput, match=r"pairs\.csv: line 3: a cell is over 16777216 characters"):
        read_text_rows(data, 0.1)


def test_an_image_manifest_line_that_is_not_a_json_object_is_one_line_naming_it(store, tmp_path: Path) -> None:
    """Image classification read the manifest with a bare json.loads per line: a line edited by hand
    that is not JSON failed as a JSONDecodeError naming no file or line, and a list failed later, unnamed."""
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.recipes.image_rows import manifest_rows
    from spark_trainer.store import projects
    from tests.app.gui_assets import write_image_folder

    projects.create(store, "p")
    dataset = ingest_paths(store, [write_image_folder(tmp_path / "shapes", per_class=2)], project="p").dataset
    manifest = Path(dataset.path) / "manifest.jsonl"
    good = manifest.read_text()
    manifest.write_text(good + "\n")  # an editor's blank last line
    assert len(manifest_rows(Path(dataset.path))) == 4
    for line, said in (("[1, 2]", "is not a JSON object"), ("{oops", "is not JSON")):
        manifest.write_text(good + line + "\n")
        with pytest.raises(BadInput, match=rf"manifest.jsonl: line 5 {said}"):
            manifest_rows(Path(dataset.path))
