"""Reporters: the store-backed one the worker uses, and a console one for bare runs."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from spark_trainer.errors import DiskFull
from spark_trainer.store import artifacts, metrics, runs
from spark_trainer.store.entities import utcnow
from spark_trainer.store.store import Store


class StoreReporter:
    """Writes metric rows in batches (at most one transaction per `flush_interval_s`), progress with
    heartbeat after each step (also throttled), and artifacts at once."""

    def __init__(self, store: Store, run_id: int, *, flush_interval_s: float = 1.0) -> None:
        self.store, self.run_id, self.flush_interval_s = store, run_id, flush_interval_s
        self._points: list[tuple[str, int, float, float]] = []
        self._progress: dict[str, Any] | None = None
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self.log_lines: list[str] = []
        self.failed: DiskFull | None = None  # the disk-full / I/O error a flush met (the run is failing)

    def on_start(self, *, start_step: int, total_steps: int) -> None:
        runs.update(self.store, self.run_id, step=start_step, total_steps=total_steps, heartbeat_at=utcnow(),
                    phase=None)  # start-up is over: the status says running, not the last start-up step

    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        now = time.time()
        with self._lock:
            self._points.extend((key, step, float(value), now) for key, value in values.items())
        self._maybe_flush()

    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None:
        with self._lock:
            self._progress = {"step": step, "total_steps": total_steps, "eta_seconds": eta_seconds}
        self._maybe_flush()

    def on_artifact(self, kind: str, path: Path, step: int | None = None, meta: dict[str, Any] | None = None) -> None:
        artifacts.add(self.store, self.run_id, kind, str(path), step=step, meta=meta)

    def on_log(self, message: str) -> None:
        self.log_lines.append(message)
        print(message, file=sys.stderr, flush=True)  # the worker's stderr is its log file

    def on_event(self, message: str) -> None:
        """A run event (shown in the run's history) and a log line."""
        runs.note(self.store, self.run_id, message)
        self.on_log(message)

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Write the buffered points and progress.

        Raises:
            DiskFull: the database's disk is full or failing. The buffered points are dropped: the
                engine flushes before every checkpoint, so they all lie past the last complete one and
                the resumed run computes them again (no gap, no duplicate). Later calls do nothing, so
                the engine's final flush does not hide this error behind a second one.
        """
        if self.failed is not None:
            return
        with self._lock:
            points, self._points = self._points, []
            progress, self._progress = self._progress, None
            self._last_flush = time.monotonic()
        try:
            if points:
                metrics.add_batch(self.store, self.run_id, points)
            if progress is not None:
                runs.update(self.store, self.run_id, heartbeat_at=utcnow(), **progress)
        except DiskFull as exc:
            self.failed = exc
            raise


class ConsoleReporter:
    """One line per `every` steps, and every evaluation, on a text stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, every: int = 10) -> None:
        self.stream = stream or sys.stderr
        self.every = max(1, every)
        self.artifacts: list[tuple[str, Path, int | None]] = []
        self.history: dict[int, dict[str, float]] = {}

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def on_start(self, *, start_step: int, total_steps: int) -> None:
        self._print(f"training steps {start_step + 1}..{total_steps}")

    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        self.history.setdefault(step, {}).update(values)
        if "eval_loss" in values or step % self.every == 0 or step == 1:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
            self._print(f"step {step}: {shown}")

    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None:
        pass  # the metric line already says where we are

    def on_artifact(self, kind: str, path: Path, step: int | None = None, meta: dict[str, Any] | None = None) -> None:
        self.artifacts.append((kind, Path(path), step))
        self._print(f"{kind}: {path}")

    def on_log(self, message: str) -> None:
        self._print(message)

    def on_event(self, message: str) -> None:
        self._print(f"event: {message}")

    def flush(self) -> None:
        self.stream.flush()
