"""Imports the libraries that views import when first shown, on a background thread, once the first
view is on screen: the charts' numpy and pyqtgraph (the GPUs view, a run's page, Compare) and the
forms' and the Leaderboard's pydantic and yaml.

Imported on the GUI thread when first needed, pyqtgraph alone held it for most of a second. This
thread imports them while the user looks at the first view; Python hands the GIL to the GUI thread
every few milliseconds between the import's bytecodes, so the event loop keeps turning (its longest
gap is what benchmarks/bench_gui_startup.py reports, with and without this).

Only third-party packages are warmed: none of them imports the app or spark_trainer, so the GUI
thread, importing a view meanwhile, never holds a module lock this thread waits for while this thread
holds one it waits for (Python resolves such a cross-thread cycle by handing one side a half-built
module). A view that needs a package this thread is importing waits for that import to finish, as it
would have waited to import it itself. That holds only while an import runs no code but the module's
own: PySide6's after-import check once asked each new module for `__wrapped__`, and pydantic's answer
was to import another of its modules, from inside whichever thread had imported pydantic
(app/pyside_imports.py says how that broke the home move, and how the app stops it).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence

from PySide6.QtCore import SignalInstance

WARM_MODULES = ("numpy", "pyqtgraph", "pydantic", "yaml")


class Warmup:
    """Starts the imports once `polled` (the store poller's) first fires: the first view has its data
    then, and the imports do not slow the reads that fill it."""

    def __init__(self, polled: SignalInstance, modules: Sequence[str] = WARM_MODULES) -> None:
        self.thread: threading.Thread | None = None
        self._polled = polled
        self._modules = modules
        polled.connect(self._first_read)

    def _first_read(self, _result: object) -> None:
        self._polled.disconnect(self._first_read)
        self.thread = start(self._modules)

    def join(self, timeout_s: float) -> None:
        """Wait for the imports to end (before the interpreter exits: not halfway through one)."""
        if self.thread is not None:
            self.thread.join(timeout_s)


def start(modules: Sequence[str] = WARM_MODULES) -> threading.Thread:
    """Start importing `modules`, in order, on a daemon thread; join it before the interpreter exits."""
    thread = threading.Thread(target=_import_all, args=(tuple(modules),), name="import-warmup", daemon=True)
    thread.start()
    return thread


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # the view that needs it imports it again and says why it cannot
