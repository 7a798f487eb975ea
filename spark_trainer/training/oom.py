"""Out of memory anywhere: model loading, evaluation and sampling are guarded like a training step.

A CUDA out-of-memory error outside the step used to end the run as a generic failure. These guards
turn it into the engine's `OutOfMemory` (naming where it happened and the micro-batch), so the
worker gives the same advice and, with `train.auto_batch`, the same retry with half the micro-batch.
Loading the model does not depend on the micro-batch, so its OOM is never retried that way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _convert(exc: BaseException, t: Any, where: str, retryable: bool) -> BaseException:
    import torch

    from spark_trainer.training.engine import OutOfMemory

    torch.cuda.empty_cache()
    error = OutOfMemory(
        f"the GPU ran out of memory during {where} with train.batch_size {t.batch_size} (grad_accum {t.grad_accum}); "
        f"{'halve train.batch_size and double train.grad_accum, or set train.auto_batch: true' if retryable else 'use a smaller model, quantization (method: qlora) or a GPU with more memory'}",
        micro_batch=t.batch_size if retryable else 1, grad_accum=t.grad_accum)
    error.where = where  # type: ignore[attr-defined]
    return error


def call(t: Any, where: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)`, with a CUDA OOM raised as OutOfMemory (not retryable: model loading)."""
    import torch

    try:
        return func(*args, **kwargs)
    except torch.cuda.OutOfMemoryError as exc:
        raise _convert(exc, t, where, retryable=False) from None


def guarded(where: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a method of the engine's loop (it has `self.config.train`): OOM -> OutOfMemory."""

    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def inner(self: Any, *args: Any, **kwargs: Any) -> T:
            import torch

            try:
                return method(self, *args, **kwargs)
            except torch.cuda.OutOfMemoryError as exc:
                raise _convert(exc, self.config.train, where, retryable=True) from None

        return inner

    return wrap
