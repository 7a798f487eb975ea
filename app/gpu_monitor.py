"""GPU samples (NVML, read off the GUI thread) and a short history per GPU for the status bar and GPU panels.

The store poller (app/model/poller.py) asks for a sample every few ticks: this monitor has no timer.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.workers import Task
from spark_trainer.gpu import GpuInfo

HISTORY = 150  # samples kept per GPU (5 minutes at the default 2 s interval)


@dataclass
class GpuHistory:
    """Recent samples of one GPU, oldest first; `t` is seconds since the monitor started."""

    t: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    utilization: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    memory_gb: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    temperature: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    power: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))

    def add(self, t: float, gpu: GpuInfo) -> None:
        nan = float("nan")
        self.t.append(t)
        self.utilization.append(nan if gpu.utilization is None else float(gpu.utilization))
        self.memory_gb.append(gpu.memory_used / 1024**3)
        self.temperature.append(nan if gpu.temperature is None else float(gpu.temperature))
        self.power.append(nan if gpu.power_watts is None else gpu.power_watts)


def _sample(_ctx: object) -> tuple[list[GpuInfo], str]:
    from spark_trainer.gpu import list_gpus, nvml_status

    gpus = list_gpus()
    return gpus, ("" if gpus else nvml_status())


class GpuMonitor(QObject):
    """Emits `sampled(list[GpuInfo])` after each `poll()`; `gpus`, `history` and `nvml_note` hold the latest."""

    sampled = Signal(list)

    def __init__(self, pool: QThreadPool, parent: QObject | None = None, *, enabled: bool = True) -> None:
        super().__init__(parent)
        self.pool = pool
        self.gpus: list[GpuInfo] = []
        self.history: dict[int, GpuHistory] = {}
        self.nvml_note = ""
        self.has_sampled = False
        self._t0 = time.monotonic()
        self._task: Task | None = None
        self.enabled = enabled  # sampled by the store poller; a disabled monitor is sampled only on request

    def poll(self) -> None:
        if self._task is not None and not self._task.done.is_set():
            return  # the previous sample is still being taken (a slow driver): skip this tick
        task = Task(_sample, owner=self, name="gpu-sample")
        task.signals.succeeded.connect(self._on_sample)
        self._task = task.start(self.pool)

    def stop(self, wait_s: float = 5.0) -> bool:
        """Wait for a sample in flight; True when none is."""
        return self._task is None or self._task.done.wait(wait_s)

    def _on_sample(self, result: tuple[list[GpuInfo], str]) -> None:
        self.record(*result)

    def record(self, gpus: list[GpuInfo], note: str = "") -> None:
        """Take one sample (from NVML, or recorded elsewhere) and tell the views."""
        now = time.monotonic() - self._t0
        for gpu in gpus:
            self.history.setdefault(gpu.index, GpuHistory()).add(now, gpu)
        self.gpus = gpus
        self.nvml_note = note
        self.has_sampled = True
        self.sampled.emit(gpus)

    def summary(self) -> str:
        """One line for the status bar."""
        if not self.has_sampled:
            return "GPUs: checking…"
        if not self.gpus:
            return "No NVIDIA GPU: CPU only"
        used = sum(g.memory_used for g in self.gpus) / 1024**3
        total = sum(g.memory_total for g in self.gpus) / 1024**3
        utils = [g.utilization for g in self.gpus if g.utilization is not None]
        util = f" · {sum(utils) / len(utils):.0f}% busy" if utils else ""
        plural = "s" if len(self.gpus) != 1 else ""
        return f"{len(self.gpus)} GPU{plural}{util} · {used:.1f}/{total:.0f} GiB"
