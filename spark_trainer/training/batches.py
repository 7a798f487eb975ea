"""Micro-batches for the engine: loaded in the training process, or by DataLoader worker processes.

Token rows are already tensors-in-waiting, so they are collated in process (a DataLoader would only
add pickling). Image recipes set `loader_workers`: decoding and augmentation then run in worker
processes with prefetch, so they never starve the accelerator.

Which items a micro-batch holds, and the augmentation seed of each, are pure functions of the
micro-batch index (see `steps.DataOrder`), so a resumed run sees exactly the batches an
uninterrupted one would have seen; the loader draws nothing from the global RNGs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

from spark_trainer.recipes.base import Recipe
from spark_trainer.training.steps import DataOrder


def item_seed(seed: int, micro_index: int, position: int) -> int:
    """The augmentation seed of one item: distinct per run seed, micro-batch and position."""
    return (seed * 1_000_003 + micro_index * 65_537 + position * 257) % (2**31 - 1)


class _Items:
    """A map-style dataset over `(index, seed)` keys, calling the recipe's `load` (in workers)."""

    def __init__(self, recipe: Recipe, data: Sequence[Any]) -> None:
        self.recipe, self.data = recipe, data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: tuple[int, int | None]) -> Any:
        index, seed = key
        return self.recipe.load(self.data[index], seed)


class _TrainPlan:
    """The (index, seed) keys of micro-batches start..end-1, produced lazily (runs can be long)."""

    def __init__(self, order: DataOrder, seed: int, start: int, end: int) -> None:
        self.order, self.seed, self.start, self.end = order, seed, start, end

    def __len__(self) -> int:
        return max(0, self.end - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int | None]]]:
        for m in range(self.start, self.end):
            yield [(i, item_seed(self.seed, m, j)) for j, i in enumerate(self.order.indices(m))]


Plan = _TrainPlan | list[list[tuple[int, int | None]]]


def _ignore_stop_signals(_worker_id: int) -> None:
    """A DataLoader worker's init: leave SIGTERM and SIGINT to the training process. A pause or cancel
    signals the worker's whole process group; a loader worker that died of it made torch raise 'DataLoader
    worker is killed by signal: Terminated' in the training process while it saved the stop's checkpoint,
    failing the run. The training process ends its loader workers itself (and they exit when it dies)."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pinned(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v.pin_memory() if hasattr(v, "pin_memory") else v for k, v in batch.items()}


def _iterate(recipe: Recipe, data: Sequence[Any], plan: Plan, workers: int, pin: bool) -> Iterator[dict[str, Any]]:
    if not len(plan):
        return iter(())
    if workers <= 0:
        batches = (recipe.collate([recipe.load(data[i], s) for i, s in keys]) for keys in plan)
        # Pinned for a GPU: copying a pageable batch up may wait for everything queued on the device, so
        # the host could not queue a step's forward pass before the step before it was done.
        return (_pinned(b) for b in batches) if pin else batches
    import torch
    from torch.utils.data import DataLoader

    loader: Any = DataLoader(cast(Any, _Items(recipe, data)), batch_sampler=plan, collate_fn=recipe.collate,
                        num_workers=workers, prefetch_factor=4, pin_memory=pin,
                        worker_init_fn=_ignore_stop_signals,
                        # A private generator: creating the iterator must not draw from the global
                        # RNG, or a resumed run's dropout would differ from an uninterrupted one's.
                        generator=torch.Generator().manual_seed(0))
    return iter(loader)


def train_batches(recipe: Recipe, order: DataOrder, seed: int, start_micro: int, end_micro: int,
                  *, pin: bool = False) -> Iterator[dict[str, Any]]:
    """Collated training micro-batches `start_micro .. end_micro - 1`, in order."""
    plan = _TrainPlan(order, seed, start_micro, end_micro)
    return _iterate(recipe, recipe.train_data, plan, recipe.loader_workers, pin)


def eval_batches(recipe: Recipe, indices: list[int], batch_size: int, *, pin: bool = False) -> Iterator[dict[str, Any]]:
    """Collated validation batches over `indices` (no augmentation)."""
    keys: list[tuple[int, int | None]] = [(i, None) for i in indices]
    plan = [keys[k:k + batch_size] for k in range(0, len(keys), batch_size)]
    return _iterate(recipe, recipe.val_data, plan, recipe.loader_workers, pin)
