"""Micro-batches (spark_trainer/training/batches.py): loaded in the training process, pinned for a GPU."""

from __future__ import annotations

from types import SimpleNamespace

from spark_trainer.training import batches
from spark_trainer.training.steps import DataOrder


class _Tensorish:
    """Stands in for a CPU tensor: pinning needs a GPU, which the suite does not have."""

    def __init__(self, value: list[int], pinned: bool = False) -> None:
        self.value, self.pinned = value, pinned

    def pin_memory(self) -> _Tensorish:
        return _Tensorish(self.value, pinned=True)


def _recipe():
    return SimpleNamespace(train_data=list(range(10)), val_data=list(range(5)), loader_workers=0,
                           load=lambda item, seed: item,
                           collate=lambda items: {"input_ids": _Tensorish(items), "count": len(items)})


def test_batches_collated_in_process_are_pinned_for_a_gpu() -> None:
    # A pageable batch's copy up may wait for everything queued on the GPU: the token recipes collate in
    # process (no DataLoader, whose pin_memory covered the image recipes only), so no step was queued
    # before the one before it had finished.
    recipe, order = _recipe(), DataOrder(10, 2, 1, 0, seed=0)
    pinned = list(batches.train_batches(recipe, order, 0, 0, 3, pin=True))
    assert len(pinned) == 3 and all(b["input_ids"].pinned and b["count"] == 2 for b in pinned)
    plain = list(batches.train_batches(recipe, order, 0, 0, 3, pin=False))
    assert [b["input_ids"].value for b in plain] == [b["input_ids"].value for b in pinned]
    assert not any(b["input_ids"].pinned for b in plain)
    evaluated = list(batches.eval_batches(recipe, [0, 1, 2, 3, 4], 2, pin=True))
    assert [b["input_ids"].value for b in evaluated] == [[0, 1], [2, 3], [4]]
    assert all(b["input_ids"].pinned for b in evaluated)
