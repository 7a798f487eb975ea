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
        if len(members) < 2:  # in validation it would be a class the model is never trained on
            members[0].split = "train"
            continue
        ordered = sorted(members, key=lambda item: item.sha256)
        if not any(item.split == "val" for item in members):
            ordered[0].split = "val"
        if not any(item.split == "train" for item in members):
            ordered[-1].split = "train"


def label_splits(items: list[Kept], *, text: bool) -> dict[str, tuple[int, int]]:
    """Each label's (training items, validation items), for the card. A text dataset's field of (nearly)
    one value per item (fewer than two a value on average) names items, not classes: {} then."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in items:
        if item.label is not None:
            counts[item.label][item.split == "val"] += 1
    if text and len(counts) * 2 > sum(train + val for train, val in counts.values()):
        return {}
    return {label: (train, val) for label, (train, val) in counts.items()}


def untrained_note(splits: dict[str, tuple[int, int]], most: int = 5) -> str | None:
    """The report's note on the classes only validation holds (a user's val/ folder or validation file
    with a class its training split lacks), else None."""
    lacking = [(label, val) for label, (train, val) in sorted(splits.items()) if not train]
    if not lacking:
        return None
    if len(lacking) == 1:
        label, val = lacking[0]
        return (f"class {label!r} has no training items ({val:,} in validation): a classifier cannot learn it, and "
                "the classification recipes refuse this dataset until you add training items for it or remove it "
                "from validation")
    named = ", ".join(f"{label!r} ({val:,} in validation)" for label, val in lacking[:most])
    more = f" and {len(lacking) - most:,} more" if len(lacking) > most else ""
    return (f"classes {named}{more} have no training items: a classifier cannot learn them, and the classification "
            "recipes refuse this dataset until you add training items for them or remove them from validation")
