"""Steps whose loss or gradients are not numbers: skipped, and a spell of them ends the run.

With bf16 or fp32, one NaN or infinite gradient reaching the optimizer poisons the weights for good
(clipping multiplies every gradient by NaN, AdamW's moments keep it), and every later checkpoint
would hold NaN weights while the good ones rotate out. So `steps.train_step` looks at the step's
loss and gradient norm before `optimizer.step()` (both global over processes, so every process
decides alike) and skips a non-finite step: no update, weights and optimizer state untouched. One bad
batch then costs one step, as in other trainers; `train.max_skipped_steps` in a row are allowed and
one more ends the run (0: the first ends it), keeping the checkpoints written before. The learning
-rate schedule still advances on a skipped step: it follows the step counter (data position,
checkpoint names, `max_steps`), so a skip loses that batch's update and shifts nothing else.

With fp16 the gradient scaler skips a step whose gradients overflow (that is how it finds its scale:
an infinite norm now and then is normal, and those skips are not counted here), so only a loss that
stays non-finite for `FP16_PATIENCE` steps in a row ends the run.

The counts are saved in each checkpoint (`state`), so a resumed run counts as an unstopped one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from spark_trainer.errors import OperationFailed

FP16_PATIENCE = 10
SKIP_EVENTS = 50  # skipped steps recorded as run events; of later ones every SKIP_LOG_EVERY-th is a log line
SKIP_LOG_EVERY = 100  # (a run that skips now and then for 100k steps keeps a short history and a small log)


class Diverged(OperationFailed):
    """The loss or gradient norm stopped being finite; the message says where and what to change."""


def _kept(latest: str | None) -> str:
    return (f"the checkpoints written before it are kept (the latest: {latest})" if latest
            else "no checkpoint had been written yet")


ADVICE = ("Start again with a lower train.learning_rate (or a lower train.max_grad_norm), or look at the rows "
          "these steps trained on")


def _what(loss: float, grad_norm: float | None) -> str:
    return f"the loss became {loss}" if not math.isfinite(loss) else f"the gradient norm became {grad_norm}"


def poisoned_weights(step: int, names: Sequence[str], latest: str | None) -> Diverged:
    """The weights themselves are not finite at a checkpoint: it is not written (nor are older ones pruned)."""
    shown = ", ".join(list(names)[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return Diverged(f"training diverged by step {step}: the weights are not finite ({shown}), so the checkpoint "
                    f"of step {step} was not written; {_kept(latest)}. {ADVICE}")


def poisoned_buffers(step: int, buffers: dict[str, str], latest: str | None) -> Diverged:
    """A skipped step's forward pass (training mode) had already updated a layer's running statistics
    with its non-finite values: skipping the update cannot take that back."""
    names = list(buffers)
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    layers = ", ".join(sorted({t for t in buffers.values() if t != "?"}))
    return Diverged(f"training diverged at step {step}: the step was skipped, but its forward pass had already made "
                    f"these statistics not finite: {shown}" + (f" (layer {layers})" if layers else "") +
                    f", so evaluation and the final model would be NaN and nothing more was saved; {_kept(latest)}. "
                    f"{ADVICE}")


def final_not_finite(names: Sequence[str], latest: str | None) -> Diverged:
    """The trained model's buffers (running statistics) are not finite at the end: no final model."""
    shown = ", ".join(list(names)[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return Diverged(f"training diverged: the model's statistics are not finite at the end ({shown}), so the final "
                    f"model was not saved; {_kept(latest)}. {ADVICE}")


@dataclass(frozen=True)
class StepVerdict:
    """What `DivergenceWatch.judge` makes of one step."""

    skipped_steps: int | None  # the run's skipped steps, this one included; None when this one was not skipped
    note: str | None = None  # a skipped step the run survives: its line
    route: Literal["event", "log"] | None = None  # where `note` goes (None: only the metric and the end count)
    diverged: Diverged | None = None  # the run must end (the engine raises it once the step's metrics are out)


class DivergenceWatch:
    """Counts skipped steps; `judge` says when the run must end."""

    def __init__(self, precision: str, max_skipped: int = 0) -> None:
        self.fp16 = precision == "fp16"
        self.max_skipped = max_skipped
        self.bad_since: int | None = None  # the first step of the current non-finite spell
        self.skipped = 0  # steps skipped over the whole run (resumes included)

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps, so a resumed run goes on counting where the stopped one was."""
        return {"skipped_steps": self.skipped, "non_finite_since": self.bad_since}

    def restore(self, state: dict[str, Any]) -> None:
        self.skipped = int(state.get("skipped_steps") or 0)
        since = state.get("non_finite_since")
        self.bad_since = None if since is None else int(since)

    def judge(self, step: int, loss: float, grad_norm: float | None, lr: float,
              last_checkpoint: Callable[[], str | None], *, skipped: bool = False,
              bad_buffers: dict[str, str] | None = None) -> StepVerdict:
        """After step `step`: count it if it was skipped, and say whether the run survives it (see
        `StepVerdict`). `bad_buffers` (name -> layer type): buffers the skipped step's forward made not
        finite, which no skip can undo; they end the run."""
        if skipped:
            self.skipped += 1
            self.bad_since = step if self.bad_since is None else self.bad_since
        count = self.skipped if skipped else None
        try:
            note = self._judge(step, loss, grad_norm, lr, last_checkpoint, skipped, bad_buffers)
        except Diverged as exc:
            return StepVerdict(count, diverged=exc)
        return StepVerdict(count, note, self.skip_route if note else None)

    def _judge(self, step: int, loss: float, grad_norm: float | None, lr: float,
               last_checkpoint: Callable[[], str | None], skipped: bool,
               bad_buffers: dict[str, str] | None) -> str | None:
        if bad_buffers:
            raise poisoned_buffers(step, bad_buffers, last_checkpoint())
        if self.fp16:
            self._check_fp16(step, loss, lr, last_checkpoint)
            return None
        if not skipped:
            self.bad_since = None
            if math.isfinite(loss) and (grad_norm is None or math.isfinite(grad_norm)):
                return None
            # Only a step taken outside `train_step`'s check gets here (its numbers are not finite
            # although it was applied): the weights can no longer be trusted.
            raise Diverged(f"training diverged at step {step}: {_what(loss, grad_norm)} (learning rate {lr:.3g}), "
                           f"so the weights can no longer be trusted and nothing more was saved; "
                           f"{_kept(last_checkpoint())}. {ADVICE}")
        since = step if self.bad_since is None else self.bad_since  # set by judge() for a skipped step
        in_a_row = step - since + 1
        if in_a_row > self.max_skipped:
            spell = "" if in_a_row == 1 else f", {in_a_row} steps in a row since step {since}"
            allowed = f"train.max_skipped_steps is {self.max_skipped}"
            weights = "the starting weights" if since <= 1 else f"those of step {since - 1}"
            raise Diverged(f"training diverged at step {step}: {_what(loss, grad_norm)} (learning rate {lr:.3g}"
                           f"{spell}; {allowed}); the step was skipped (the weights are {weights}) and nothing "
                           f"more was saved; {_kept(last_checkpoint())}. {ADVICE}")
        later = (f"; of later ones every {SKIP_LOG_EVERY}th is a log line, all are in the skipped_steps metric "
                 "and the count at the run's end") if self.skipped == SKIP_EVENTS else ""
        return (f"step {step} skipped: {_what(loss, grad_norm)}; the weights and optimizer state are unchanged "
                f"and training goes on ({in_a_row} in a row of at most {self.max_skipped}; {self.skipped} in this "
                f"run){later}")

    @property
    def skip_route(self) -> Literal["event", "log"] | None:
        """Where the latest skipped step's note goes: "event" (the first SKIP_EVENTS), "log" (every
        SKIP_LOG_EVERY-th after those), or None (only the skipped_steps metric and the end count)."""
        if self.skipped <= SKIP_EVENTS:
            return "event"
        return "log" if self.skipped % SKIP_LOG_EVERY == 0 else None

    def summary(self, steps_run: int) -> str | None:
        """The run's end line when it skipped steps (whatever its end), else None."""
        if not self.skipped:
            return None
        return f"{self.skipped} of {steps_run} steps skipped (loss or gradients not finite)"

    def _check_fp16(self, step: int, loss: float, lr: float, last_checkpoint: Callable[[], str | None]) -> None:
        if math.isfinite(loss):
            self.bad_since = None
            return
        self.bad_since = step if self.bad_since is None else self.bad_since
        if step - self.bad_since + 1 < FP16_PATIENCE:
            return
        raise Diverged(f"training diverged at step {step}: the loss was {loss} for {FP16_PATIENCE} steps in a row "
                       f"(since step {self.bad_since}) (learning rate {lr:.3g}), so the weights can no longer be "
                       f"trusted and nothing more was saved; {_kept(last_checkpoint())}. {ADVICE}")
