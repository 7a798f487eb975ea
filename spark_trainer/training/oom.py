"""Out of memory anywhere: model loading, evaluation and sampling are guarded like a training step.

A CUDA out-of-memory error outside the step used to end the run as a generic failure. These guards
turn it into the engine's `OutOfMemory` (naming where it happened and the micro-batch), so the
worker gives the same advice and, with `train.auto_batch`, the same retry with half the micro-batch.
Loading the model does not depend on the micro-batch, so its OOM is never retried that way.

Samples do not depend on the micro-batch either (one prompt at a time), and they are not needed to
train: a sampling OOM skips that round of samples with a run event and training goes on; after
`SAMPLE_OOMS_BEFORE_OFF` of them, sampling is off for the rest of the run. A sharded (FSDP) run
generates on every process in step, so there one process must not skip alone: the OOM stops the run
with advice, and the launcher stops every rank.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from spark_trainer.errors import OperationFailed

T = TypeVar("T")


class OutOfMemory(OperationFailed):
    """The GPU ran out of memory; `micro_batch` and `grad_accum` say what was tried."""

    def __init__(self, message: str, *, micro_batch: int, grad_accum: int) -> None:
        super().__init__(message)
        self.micro_batch = micro_batch
        self.grad_accum = grad_accum


def _convert(exc: BaseException, t: Any, where: str, retryable: bool) -> BaseException:
    import torch

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


SAMPLE_OOMS_BEFORE_OFF = 2
SAMPLING_ADVICE = ("lower the sampling frequency (eval.samples_every_steps), use fewer or shorter sample prompts, "
                   "or turn samples off")


def sampling(state: Any, step: int, generate: Callable[..., T], *args: Any) -> T | None:
    """`generate(*args)`, or None when the GPU ran out of memory generating the samples of `step`.

    `state` is the engine's loop state: its `sample_ooms` counts the skipped rounds and `samples_off`
    ends sampling for the run; its report records each as a run event.
    """
    import torch

    try:
        return generate(*args)
    except torch.cuda.OutOfMemoryError:
        if state.sharded:
            t = state.config.train
            error = OutOfMemory(f"the GPU ran out of memory generating samples at step {step}; {SAMPLING_ADVICE}",
                                micro_batch=1, grad_accum=t.grad_accum)
            error.where = "sampling"  # type: ignore[attr-defined]
            raise error from None
    # Only an OOM outside a sharded run gets here: outside the except block, so the failed attempt's
    # tensors (held by the traceback) can be freed.
    torch.cuda.empty_cache()
    state.sample_ooms += 1
    state.samples_off = state.sample_ooms >= SAMPLE_OOMS_BEFORE_OFF
    then = "sampling is off for the rest of this run" if state.samples_off else "training continues"
    message = f"samples at step {step} skipped: the GPU ran out of memory generating them; {then} ({SAMPLING_ADVICE})"
    on_event = getattr(state.report, "on_event", None)
    (on_event or state.report.on_log)(message)
    return None


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
