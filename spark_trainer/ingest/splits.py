"""Splits the user already made: `train/` and `val/` (or `test/`) folders, or `train.csv` and
`test.csv` files, as datasets downloaded from Kaggle or the Hugging Face Hub come.

Such a dataset keeps its split: its validation and test items are held out as they are, never mixed
into training by the content-hash split (`IngestOptions.val_fraction` then applies only to items
outside the named folders and files). Test items are held out as validation: a dataset here has
two splits, and a test set trained on would make every later evaluation meaningless.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from spark_trainer.ingest.detect import SPLIT_NAMES, InputFile

if TYPE_CHECKING:
    from spark_trainer.ingest.staging import Kept


def split_of_file(f: InputFile) -> str | None:
    """"train" or "val" when the file sits in a split folder directly below the folder the user gave
    (train/cat/1.jpg, valid/1.jpg), or is itself named for a split (train.csv, test.jsonl); else None."""
    if len(f.rel) >= 2 and f.rel[0].lower() in SPLIT_NAMES:
        return SPLIT_NAMES[f.rel[0].lower()]
    return SPLIT_NAMES.get(f.path.stem.lower())


def settle_splits(items: list[Kept], files: list[InputFile]) -> str | None:
    """Keep the user's split only when it holds something out (a val/ or test/ folder or file): a
    lone train.jsonl is just a name, and its items take the usual content-hash split. Returns the
    report's note when the split is kept."""
    named = sorted({(f.rel[0] + "/" if len(f.rel) >= 2 and f.rel[0].lower() in SPLIT_NAMES else f.path.name)
                    for f in files if split_of_file(f)})
    if not any(item.split == "val" for item in items):
        for item in items:
            item.split = None
        return None
    return (f"split kept as given by {', '.join(named[:6])}: test and validation items are held out as "
            "validation; val_fraction applies only to other items")


PER_CLASS = 5  # items a class holds on average, at least, for a field's values to be read as classes


def every_class_held_out(items: list[Kept]) -> None:
    """Give each class a validation item and keep it a training one, where the content-hash split left it
    none (42 images of three classes at 0.1 held out two foxes and no cat or dog: accuracy, the best
    checkpoint and early stopping then spoke for one class). Only where the classes hold PER_CLASS items
    each on average, so that a column of ids is not taken for classes; a class of one item stays in
    training. The rest keep their hash split."""
    by_class: dict[str, list[Kept]] = defaultdict(list)
    for item in items:
        if item.label is not None:
            by_class[item.label].append(item)
    if not by_class or len(by_class) * PER_CLASS > sum(map(len, by_class.values())):
        return  # a field of (nearly) one value per item names items, not classes
    for members in by_class.values():
        if len(members) < 2:
            continue
        ordered = sorted(members, key=lambda item: item.sha256)
        if not any(item.split == "val" for item in members):
            ordered[0].split = "val"
        if not any(item.split == "train" for item in members):
            ordered[-1].split = "train"
