"""Label sets of the classification recipes, as labels come out of real spreadsheets and JSON files."""

from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.recipes.classification import LabelSet, label_name, missing_label


def test_a_numeric_label_column_read_as_floats_names_the_same_classes_as_integers() -> None:
    labels = LabelSet([1.0, 0.0, 10.0, 2.0, 1.0], "label", "d.jsonl")
    assert labels.names == ["0", "1", "2", "10"]
    assert labels.id_of(1.0) == labels.id_of(1) == labels.id_of("1") == 1


def test_a_csv_column_of_floats_names_the_same_classes_as_integers() -> None:
    labels = LabelSet(["1.0", "0", " 0.0", "2.00", "1"], "label", "d.csv")
    assert labels.names == ["0", "1", "2"]
    assert label_name("1.5") == "1.5" and label_name("v1.0") == "v1.0"


def test_a_stray_space_in_a_cell_does_not_make_a_new_class() -> None:
    labels = LabelSet(["spam", "ham", "spam ", " ham"], "label", "d.csv")
    assert labels.names == ["ham", "spam"]
    assert labels.id_of("spam ") == labels.id_of("spam")


def test_numbers_read_from_a_csv_sort_as_numbers() -> None:
    assert LabelSet(["10", "2", "1"], "label", "d.csv").names == ["1", "2", "10"]
    assert LabelSet(["b", "10", "2"], "label", "d.csv").names == ["10", "2", "b"]


def test_one_class_in_several_spellings_is_one_class() -> None:
    with pytest.raises(BadInput, match=r"d.csv: classification needs at least 2 classes in 'label'; found '1'"):
        LabelSet([1, 1.0, "1 "], "label", "d.csv")


def test_empty_cells_are_missing_labels() -> None:
    assert [missing_label(v) for v in (None, "", "  ", float("nan"), 0, "0", 0.0)] == [
        True, True, True, True, False, False, False]
    assert label_name(2.5) == "2.5"
