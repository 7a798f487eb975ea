"""How a training run talks to whoever started it: callbacks out, commands in.

The engine calls a `Reporter` (metrics, progress, artifacts, log lines) and polls a `Commands`
object between steps (stop, pause, save now, sample now). The store-backed reporter used by the
worker, the console reporter used by bare runs, and the GUI all sit behind these two types, so
the engine never knows who is listening.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Tests only: model loading sleeps this many seconds first (`Commands.start_up`), so a test can stop
# a worker whose start-up is slow, as a large model's is, without one.
START_UP_DELAY_ENV = "SPARK_TRAINER_TEST_START_UP_DELAY"

# The Commands of the engine starting up in this process, for `start_up_progress`: a recipe's long
# start-up step (caching a diffusion run's VAE latents) says how far it is without seeing Commands.
_starting: Commands | None = None


def start_up_progress(text: str) -> None:
    """How far the current start-up phase is ("caching VAE latents 340/2,600 images"), for the run's
    status while it sits at step 0 (`Commands.phase_text`); nothing when no engine is starting up here."""
    commands = _starting
    if commands is not None:
        commands.detail(text)


class Reporter(Protocol):
    def on_start(self, *, start_step: int, total_steps: int) -> None:
        """Training is about to run steps start_step+1..total_steps."""

    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        """Scalar metrics at an optimizer step (loss, lr, grad_norm, tokens_per_s, eval_loss...)."""

    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None:
        """Called after every optimizer step."""

    def on_artifact(self, kind: str, path: Path, step: int | None = None, meta: dict[str, Any] | None = None) -> None:
        """A file or folder was written: checkpoint, final, sample, eval_report..."""

    def on_log(self, message: str) -> None:
        """A human-readable line for the run's log."""

    def flush(self) -> None:
        """Write anything buffered (called at evaluation, checkpoint and end)."""

    # Optional: `on_event(message)`, something the run's history should show (e.g. "torch.compile
    # failed; training continues without compile"). Reporters without it get the line via on_log.


class StopKind(str, enum.Enum):
    CANCEL = "cancel"
    PAUSE = "pause"


class StopRequested(Exception):  # noqa: N818 - a request, not an error
    """A stop was requested during start-up, before the first step: nothing new was trained or saved."""

    def __init__(self, kind: StopKind, phase: str) -> None:
        super().__init__(f"{kind.value} requested during start-up ({phase})")
        self.kind, self.phase = kind, phase


def stop_within(exc: BaseException) -> StopRequested | None:
    """The StopRequested `exc` was raised from (its cause or context, however deep), or None."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        if isinstance(found, StopRequested):
            return found
        seen.add(id(found))
        found = found.__cause__ or found.__context__
    return None


class Commands:
    """Thread-safe requests to a running engine; a signal handler may set them.

    Until the engine calls `started()`, a stop is honoured between start-up phases (and, inside an
    interruptible one, at once) by raising StopRequested; after it, by the loop, which saves first.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()  # reentrant: a signal handler may call in while the engine holds it
        self._stop: StopKind | None = None
        self._save = False
        self._sample = False
        self._phase: str | None = "starting"  # None once training steps run
        self._detail: str | None = None  # how far the phase is, from `start_up_progress`
        self._interruptible = False
        self._ranks = False  # the run's ranks start up in their own processes: no phase to show here

    @contextmanager
    def start_up(self, phase: str, *, interruptible: bool = False) -> Iterator[None]:
        """Run one start-up phase. A stop requested before it raises StopRequested here. `interruptible`:
        the phase only reads, or writes atomically (tokenizing, loading weights), so a stop requested
        during it raises at once, from the signal handler (`interrupt_start_up`), rather than after a
        call that can take minutes."""
        global _starting
        with self._lock:
            self._phase, self._interruptible, self._detail = phase, interruptible, None
        _starting = self
        try:
            self.check_stop()  # after marking the phase: a signal in between then raises in its handler
            if phase == "loading the model":
                _start_up_delay_for_tests()
            yield
        except StopRequested:
            raise
        except Exception as exc:
            # Raised from the signal handler inside a library, the stop may come out wrapped: diffusers'
            # lazy import turned it into "RuntimeError: Failed to import diffusers.models...", and a
            # cancelled run ended failed with that traceback chain. The request is what happened.
            if (stop := stop_within(exc)) is not None:
                raise stop from None
            raise
        finally:
            self._interruptible = False

    def check_stop(self) -> None:
        """Raise StopRequested if a stop was requested and training has not started."""
        with self._lock:
            if self._stop is not None and self._phase is not None:
                raise StopRequested(self._stop, self._phase)

    def interrupt_start_up(self) -> None:
        """For a SIGTERM handler, after `request_stop`: raise StopRequested now if inside an
        interruptible start-up phase (the exception unwinds that phase's call)."""
        if self._interruptible:
            self.check_stop()

    def started(self) -> None:
        """Start-up is over (raises StopRequested for a stop requested in its last phase); from now on
        the training loop honours stops."""
        global _starting
        with self._lock:
            self._interruptible = False
            self.check_stop()
            self._phase, self._detail = None, None
        if _starting is self:
            _starting = None

    def detail(self, text: str | None) -> None:
        """How far the current start-up phase is (see `start_up_progress`)."""
        with self._lock:
            if self._phase is not None:
                self._detail = text

    def hand_to_ranks(self) -> None:
        """The run trains in rank processes, which start up on their own: `phase_text` says nothing."""
        with self._lock:
            self._ranks = True

    def phase_text(self) -> str | None:
        """What start-up is doing, for the run's status while it sits at step 0 ("loading the model:
        caching VAE latents 340/2,600 images"); None once training steps run."""
        with self._lock:
            if self._phase is None or self._ranks:
                return None
            phase = "starting up" if self._phase == "starting" else self._phase  # not "running: starting"
            return f"{phase}: {self._detail}" if self._detail else phase

    @property
    def starting(self) -> bool:
        """True until the engine has started training steps."""
        with self._lock:
            return self._phase is not None

    def request_stop(self, kind: StopKind = StopKind.CANCEL) -> None:
        with self._lock:
            if self._stop is None:
                self._stop = kind

    def request_save(self) -> None:
        with self._lock:
            self._save = True

    def request_sample(self) -> None:
        with self._lock:
            self._sample = True

    @property
    def stop_requested(self) -> StopKind | None:
        with self._lock:
            return self._stop

    def stop_pending(self) -> bool:
        """Whether a stop was requested (asked between a step's micro-batches, see `steps.launch_step`)."""
        with self._lock:
            return self._stop is not None

    def take_save(self) -> bool:
        """True once per save request (the engine then saves a checkpoint)."""
        with self._lock:
            wanted, self._save = self._save, False
            return wanted

    def take_sample(self) -> bool:
        with self._lock:
            wanted, self._sample = self._sample, False
            return wanted


@dataclass
class TrainOutcome:
    """How `run_training` ended. `stopped` means a stop was requested and honoured."""

    status: str  # "completed" or "stopped"
    step: int
    total_steps: int
    last_checkpoint: Path | None = None
    final_path: Path | None = None
    best_metric: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    early_stop: str | None = None  # completed early: why ("eval_accuracy did not improve in 2 evaluations")


def _start_up_delay_for_tests() -> None:
    """Sleep SPARK_TRAINER_TEST_START_UP_DELAY seconds when it is set (tests only; see above)."""
    import os
    import sys
    import time

    delay = float(os.environ.get(START_UP_DELAY_ENV) or 0)
    if delay > 0:
        print(f"start-up delayed {delay:g} s ({START_UP_DELAY_ENV}, a test's slow model loading)", file=sys.stderr,
              flush=True)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:  # in short sleeps, as a load runs Python steps: a stop request
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))  # noticed by polling its file is
            # handled between them (a signal would cut one short; see jobs/worker_process.install_stop_handler)
