"""Run Python's garbage collector on the GUI thread only.

Left to itself, the cyclic collector runs on whichever thread happens to allocate, and a worker
thread (ingestion, the scheduler poll) can then collect Qt wrappers and destroy QObjects off the
GUI thread. Qt's destructor takes an internal mutex and then needs the GIL, while the GUI thread
holds the GIL and waits for that mutex: a deadlock (seen here in the video-wizard test). The known
cure for Qt apps is to switch automatic collection off and collect on the GUI thread on a timer,
with the same generation thresholds Python would use.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_INSTALLED: GuiThreadCollector | None = None


class GuiThreadCollector(QObject):
    """Disables automatic GC and collects from a GUI-thread timer when thresholds are exceeded."""

    def __init__(self, parent: QObject, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return


def install(app: QObject) -> GuiThreadCollector:
    """Install once per process, parented to the QApplication (idempotent)."""
    global _INSTALLED
    if _INSTALLED is None:
        _INSTALLED = GuiThreadCollector(app)
    return _INSTALLED


def uninstall() -> None:
    """Collect once on this (GUI) thread and give automatic collection back (tests use this)."""
    global _INSTALLED
    if _INSTALLED is not None:
        _INSTALLED.timer.stop()
        _INSTALLED.deleteLater()
        _INSTALLED = None
    gc.collect()
    gc.enable()
