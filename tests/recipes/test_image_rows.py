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
