"""Rank 0's reporter on a cluster: JSON lines and a status file in the job folder, never SQLite.

The job folder often lives on network storage, where SQLite's locking is unreliable; appending
lines is not. `run import` turns these files into store rows on the desktop.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from spark_trainer.cluster import layout
from spark_trainer.store.entities import utcnow


def _now_text() -> str:
    return utcnow().isoformat()


class JobFolderReporter:
    """Metrics in batches (at most one append per `flush_interval_s`), artifacts and events at once,
    and `status.json` with progress and a heartbeat, replaced atomically."""

    def __init__(self, run_dir: Path, *, world_size: int, flush_interval_s: float = 1.0) -> None:
        self.run_dir, self.flush_interval_s = Path(run_dir), flush_interval_s
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._last_flush = time.monotonic()
        self.status: dict[str, Any] = {"status": "starting", "step": 0, "total_steps": None, "eta_seconds": None,
                                       "host": socket.gethostname(), "pid": os.getpid(), "world_size": world_size,
                                       "started_at": None, "finished_at": None, "heartbeat_at": _now_text(),
                                       "error": None, "reason": ""}

    # --- status -------------------------------------------------------------------------------
    def transition(self, to: str, reason: str, **fields: Any) -> None:
        """A status change: one event line, and status.json rewritten."""
        with self._lock:
            before = self.status["status"]
            self.status.update(fields, status=to, reason=reason, heartbeat_at=_now_text())
            if to == "running" and self.status["started_at"] is None:
                self.status["started_at"] = _now_text()
            if to != "running":
                self.status["finished_at"] = _now_text()
                self.status["eta_seconds"] = None
            self._append(layout.EVENTS_FILE, {"time": _now_text(), "from": before, "to": to, "reason": reason})
            self._write_status()

    def beat(self) -> None:
        with self._lock:
            self.status["heartbeat_at"] = _now_text()
            self._write_status()

    def resumed_from(self, step: int) -> None:
        """Points past `step` written before a kill are superseded: `run import` drops them."""
        with self._lock:
            self._append(layout.METRICS_FILE, {"resumed_from": step, "time": time.time()})

    def _write_status(self) -> None:
        layout.write_json_atomic(self.run_dir / layout.STATUS_FILE, self.status)

    def _append(self, name: str, item: dict[str, Any]) -> None:
        self._append_lines(name, [json.dumps(item, ensure_ascii=False)])

    def _append_lines(self, name: str, lines: list[str]) -> None:
        with open(self.run_dir / name, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
            fh.flush()
            os.fsync(fh.fileno())

    # --- the engine's Reporter ------------------------------------------------------------------
    def on_start(self, *, start_step: int, total_steps: int) -> None:
        with self._lock:
            self.status.update(step=start_step, total_steps=total_steps)
            self._write_status()

    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        line = json.dumps({"step": step, "values": {k: float(v) for k, v in values.items()}, "time": time.time()})
        with self._lock:
            self._lines.append(line)
        self._maybe_flush()

    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None:
        with self._lock:
            self.status.update(step=step, total_steps=total_steps, eta_seconds=eta_seconds)
        self._maybe_flush()

    def on_artifact(self, kind: str, path: Path, step: int | None = None, meta: dict[str, Any] | None = None) -> None:
        relative = os.path.relpath(Path(path), self.run_dir)
        with self._lock:
            self._append(layout.ARTIFACTS_FILE, {"kind": kind, "path": relative, "step": step, "meta": meta or {},
                                                 "time": _now_text()})

    def on_log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def on_event(self, message: str) -> None:
        with self._lock:
            status = self.status["status"]
            self._append(layout.EVENTS_FILE, {"time": _now_text(), "from": status, "to": status, "reason": message})
        self.on_log(message)

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
            self._last_flush = time.monotonic()
            if lines:
                self._append_lines(layout.METRICS_FILE, lines)
            self.status["heartbeat_at"] = _now_text()
            self._write_status()
