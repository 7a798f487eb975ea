"""How a training run talks to whoever started it: callbacks out, commands in.

The engine calls a `Reporter` (metrics, progress, artifacts, log lines) and polls a `Commands`
object between steps (stop, pause, save now, sample now). The store-backed reporter used by the
worker, the console reporter used by bare runs, and the GUI all sit behind these two types, so
the engine never knows who is listening.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


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


class Commands:
    """Thread-safe requests to a running engine; a signal handler may set them."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # reentrant: a signal handler may call in while the engine holds it
        self._stop: StopKind | None = None
        self._save = False
        self._sample = False

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
