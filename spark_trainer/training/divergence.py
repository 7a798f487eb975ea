"""A run whose loss stops being a number is stopped, before it saves anything.

With bf16 or fp32, a NaN or infinite loss or gradient norm reaches the weights through the optimizer
step (clipping multiplies every gradient by NaN), so every later step trains nothing and every
later checkpoint holds NaN weights: kept checkpoints rotate, and the good ones were pruned while the
run went on to "complete" with a useless model. So the first such step fails the run, and the
checkpoints written before it stay. With fp16 the gradient scaler skips a step whose gradients
overflow (that is how it finds its scale: an infinite norm now and then is normal), so only a loss
that stays non-finite for `FP16_PATIENCE` steps in a row ends the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from spark_trainer.errors import OperationFailed

FP16_PATIENCE = 10


class Diverged(OperationFailed):
    """The loss or gradient norm stopped being finite; the message says where and what to change."""


class DivergenceWatch:
    def __init__(self, precision: str) -> None:
        self.fp16 = precision == "fp16"
        self.bad_since: int | None = None  # the first step of the current non-finite spell

    def check(self, step: int, loss: float, grad_norm: float | None, lr: float,
              last_checkpoint: Callable[[], str | None]) -> None:
        """Raise Diverged when step `step` (just taken) means the weights can no longer be trusted."""
        norm_bad = grad_norm is not None and not math.isfinite(grad_norm)
        if math.isfinite(loss) and (self.fp16 or not norm_bad):
            self.bad_since = None
            return
        if self.fp16:
            if math.isfinite(loss):
                return
            self.bad_since = step if self.bad_since is None else self.bad_since
            if step - self.bad_since + 1 < FP16_PATIENCE:
                return
        what = (f"the loss was {loss} for {FP16_PATIENCE} steps in a row (since step {self.bad_since})" if self.fp16
                else f"the loss became {loss}" if not math.isfinite(loss) else f"the gradient norm became {grad_norm}")
        latest = last_checkpoint()
        kept = (f"the checkpoints written before it are kept (the latest: {latest})" if latest
                else "no checkpoint had been written yet")
        raise Diverged(f"training diverged at step {step}: {what} (learning rate {lr:.3g}), so the weights can no "
                       f"longer be trusted and nothing more was saved; {kept}. Start again with a lower "
                       "train.learning_rate (or train.max_grad_norm set), or look at the rows this step trained on")
