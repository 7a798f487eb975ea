"""Label sets of the classification recipes, as labels come out of real spreadsheets and JSON files."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.manifest_fields import is_filled
from spark_trainer.recipes.classification import LabelSet, label_name


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


def test_an_accent_typed_as_one_character_or_two_is_one_class() -> None:
    # 'é' as U+00E9 (NFC) and as 'e' + U+0301 (NFD: a macOS folder name, some keyboards) look alike.
    labels = LabelSet(["caf\u00e9", "cafe\u0301", "tea"], "label", "d.csv")
    assert labels.names == ["caf\u00e9", "tea"]
    assert labels.id_of("cafe\u0301") == labels.id_of("caf\u00e9") == 0
    # A run frozen `as-written` keeps the classes its model was trained with.
    assert LabelSet(["caf\u00e9", "cafe\u0301", "tea"], "label", "d.csv", as_written=True).names == \
        sorted(["caf\u00e9", "cafe\u0301", "tea"])


def test_numbers_read_from_a_csv_sort_as_numbers() -> None:
    assert LabelSet(["10", "2", "1"], "label", "d.csv").names == ["1", "2", "10"]
    assert LabelSet(["b", "10", "2"], "label", "d.csv").names == ["10", "2", "b"]


def test_one_class_in_several_spellings_is_one_class() -> None:
    with pytest.raises(BadInput, match=r"d.csv: classification needs at least 2 classes in 'label'; found '1'"):
        LabelSet([1, 1.0, "1 "], "label", "d.csv")


def test_a_class_only_validation_holds_is_named_with_its_counts() -> None:
    from spark_trainer.recipes.classification import class_splits, untrained_classes

    labels = LabelSet(["cat", "dog", "fox", 1.0, "1"], "label", "d.csv")
    counted = [("cat", "train", 3), ("cat ", "val", 1), ("dog", "train", 2), ("fox", "val", 2), (1.0, "val", 1),
               ("1", "val", 1)]
    splits = class_splits(labels, counted)
    assert splits == {"1": (0, 2), "cat": (3, 1), "dog": (2, 0), "fox": (0, 2)}
    assert untrained_classes(splits) == ("classes '1' (2 in validation), 'fox' (2 in validation) have no training "
                                         "items: add training items for them or remove them from validation")
    assert untrained_classes({"cat": (3, 1), "fox": (0, 2)}) == (
        "class 'fox' has no training items (2 in validation): add training items for it or remove it from validation")
    assert untrained_classes({"cat": (3, 1), "dog": (2, 0)}) is None  # a class only training holds is fine
    many = {f"c{i}": (0, 1) for i in range(8)}
    assert untrained_classes(many).startswith("classes 'c0' (1 in validation), ") and " and 3 more have " in \
        untrained_classes(many)


def test_empty_cells_are_missing_labels() -> None:
    assert [not is_filled(v) for v in (None, "", "  ", float("nan"), [], {}, 0, "0", 0.0, False)] == [
        True, True, True, True, True, True, False, False, False, False]
    assert label_name(2.5) == "2.5"


def _stored_in(base: Path, dtype: str, dest: Path) -> Path:
    """A copy of the classifier `base` with its weights stored in `dtype`, as bf16 checkpoints on the Hub are."""
    import shutil

    import torch
    import transformers

    shutil.copytree(base, dest)
    architecture = transformers.AutoConfig.from_pretrained(base).architectures[0]
    model = getattr(transformers, architecture).from_pretrained(base)
    model.to(getattr(torch, dtype)).save_pretrained(dest)
    return dest


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("method", ["lora", "full"])
@pytest.mark.parametrize("recipe", ["text-classification", "image-classification"])
def test_a_base_stored_in_half_precision_trains_its_weights_in_fp32(
        recipe, method, dtype, tiny_text_classifier, tiny_image_classifier, tmp_path):
    import torch

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.recipes.registry import get_recipe
    from tests.recipes.helpers import make_image_folders, ticket_rows, write_jsonl

    text = recipe == "text-classification"
    base = _stored_in(tiny_text_classifier if text else tiny_image_classifier, dtype, tmp_path / "base")
    if text:
        data = write_jsonl(tmp_path / "tickets.jsonl", ticket_rows(30))
    else:
        root = make_image_folders(tmp_path / "shapes", per_class=4)
        data = write_jsonl(root / "manifest.jsonl", [{"path": str(p.relative_to(root)), "label": p.parent.name}
                                                     for p in sorted(root.rglob("*.png"))])
    config = ExperimentConfig.model_validate({
        "name": "half", "recipe": recipe, "base_model": str(base), "dataset": "data", "gpus": "cpu",
        "recipe_config": {"method": method}})
    built = get_recipe(recipe).load()(config)
    built.prepare(data)
    model = built.build_model(torch.device("cpu"), "fp32")

    trainable = {name: p.dtype for name, p in model.named_parameters() if p.requires_grad}
    assert any("classifier" in name for name in trainable), trainable  # the new head is among them
    # fp32 master weights: a bf16 head drops updates below its rounding step (~1e-4 at 0.02).
    assert set(trainable.values()) == {torch.float32}, {n: d for n, d in trainable.items() if d != torch.float32}


def test_a_runs_label_names_come_from_its_final_model_else_its_newest_validation_report(tmp_path) -> None:
    """What export and evaluation build the classifier from once the run's dataset is deleted."""
    import json

    from spark_trainer.recipes.classification import run_label_names

    assert run_label_names(tmp_path) is None  # stopped before its first evaluation: only its dataset says
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "step-00000005.json").write_text(json.dumps({"labels": ["old"]}))
    (tmp_path / "eval" / "step-00000010.json").write_text(json.dumps({"labels": ["bug", "praise"]}))
    assert run_label_names(tmp_path) == ["bug", "praise"]
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "config.json").write_text(json.dumps({"id2label": {"1": "10", "0": "2", "2": "spam"}}))
    assert run_label_names(tmp_path) == ["2", "10", "spam"]  # in id order, not the file's


def test_the_confusion_picture_draws_class_names_beyond_ascii() -> None:
    """Pillow's default font has ASCII only: the class folder 'dögs' was drawn 'd□gs' in the picture
    the run's Evaluation tab shows (any missing letter draws the same box)."""
    import numpy as np

    from spark_trainer.fonts import label_font
    from spark_trainer.recipes.classification import confusion_image

    if label_font().getname()[0] == "Aileron":
        pytest.skip("no system font with these letters on this machine (Pillow's own is ASCII only)")
    # the longer second name sets the label room, so both pictures have one layout
    drawn = np.asarray(confusion_image([[1, 0], [0, 1]], ["dögs", "cats and kittens"]))
    boxed = np.asarray(confusion_image([[1, 0], [0, 1]], ["d\U0010fffdgs", "cats and kittens"]))  # a letter no font has
    assert drawn.shape == boxed.shape and (drawn != boxed).any()


def test_long_class_names_in_the_confusion_picture_stay_in_their_own_column_and_row() -> None:
    """Class names were cut at 12 letters, still wider than a cell: with 10 classes of 30-letter names each
    column's title ran into the next one's and the last ran off the picture (the JSON keeps the full names)."""
    import numpy as np

    from spark_trainer.recipes.classification import confusion_image

    names = [f"{word}_{i:02d}".rjust(30, "w") for i, word in enumerate(
        ["retriever", "siamese", "fox", "heron", "monarch", "humpback", "elephant", "owl", "eagle", "turtle"])]
    assert all(len(n) == 30 for n in names)
    cell = 56
    pixels = np.asarray(confusion_image([[5 * (r == c) + 1 for c in range(10)] for r in range(10)], names, cell=cell))
    outline = (pixels == (200, 200, 200)).all(axis=2)  # the cells' borders (grey text edges are short)
    xs, ys = np.nonzero(outline.sum(axis=0) > cell)[0], np.nonzero(outline.sum(axis=1) > cell)[0]
    left, top, right = xs.min(), ys.min(), xs.max()
    assert right - left + 2 == 10 * cell
    ink = (pixels < 128).all(axis=2)  # text is black; cells are shaded pastel
    title_row = np.nonzero(ink[:top].any(axis=1))[0]
    names_band = ink[title_row[0] + 14:top]  # below the "predicted class" line, above the grid
    for c in range(11):  # each gap between columns, and the picture's right edge beyond the last
        x = left + c * cell - 2
        assert not names_band[:, x:x + 2].any(), f"a column title crosses the border before column {c}"
    assert not ink[top:, left - 3:left].any(), "a row label runs into the grid"
    assert pixels.shape[1] > right + 2 and not ink[:, -2:].any(), "text runs off the picture"


def test_training_macro_f1_is_scikit_learns_and_evaluates_own() -> None:
    """A class predicted on validation rows that hold none of it was left out of training's macro-F1,
    where `evaluate` and scikit-learn count it (F1 0): the run's eval_macro_f1 differed from `evaluate`'s
    on the same rows."""
    import torch

    from spark_trainer.evaluation.metrics import classification_report
    from spark_trainer.recipes.classification import metrics_from_confusion

    names = ["cat", "dog", "fox"]
    truth = ["cat", "cat", "dog", "dog", "cat"]  # no fox in validation
    predicted = ["cat", "fox", "dog", "cat", "cat"]  # but one predicted
    confusion = torch.zeros(3, 3)
    for t, p in zip(truth, predicted, strict=True):
        confusion[names.index(t), names.index(p)] += 1
    result = metrics_from_confusion({"confusion": confusion, "loss_sum": torch.tensor(1.0), "count": torch.tensor(5)},
                                    names)
    # cat: precision 2/3, recall 2/3; dog: 1 and 1/2; fox: 0. Their mean (2/3 + 2/3 + 0) / 3 is 4/9, as
    # sklearn.metrics.f1_score(truth, predicted, average="macro") says; without fox it was 2/3.
    expected = 4 / 9
    assert result.metrics["eval_macro_f1"] == pytest.approx(expected)
    assert classification_report(truth, predicted, names)["macro_f1"] == pytest.approx(expected)
