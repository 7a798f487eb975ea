"""app.warmup: after the store's first read, the listed modules are imported on a thread of their own
(not the GUI thread), once; a module that cannot be imported is skipped."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import subprocess_env

PROBE = """
import json, sys, threading
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

first_found_on = {}

class Spy:  # finds nothing: notes the thread that first imports each module
    def find_spec(self, name, path=None, target=None):
        first_found_on.setdefault(name, threading.current_thread().name)
        return None

sys.meta_path.insert(0, Spy())
from app.warmup import Warmup

class Poller(QObject):
    polled = Signal(object)

app = QApplication([])
poller = Poller()
warm = Warmup(poller.polled, ("pyqtgraph", "no_such_module_here", "yaml"))
before = {"thread": warm.thread is not None, "pyqtgraph": "pyqtgraph" in sys.modules}
poller.polled.emit(None)
first = warm.thread
poller.polled.emit(None)  # a later read starts nothing more
warm.join(120)
print("RESULT " + json.dumps({
    "before": before, "same_thread": warm.thread is first, "alive": first.is_alive(),
    "loaded": [m for m in ("pyqtgraph", "yaml", "no_such_module_here") if m in sys.modules],
    "pyqtgraph_on": first_found_on.get("pyqtgraph"), "yaml_on": first_found_on.get("yaml"),
}))
"""


def test_modules_are_imported_on_their_own_thread_after_the_first_read() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=180,
                          env=subprocess_env(QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])
    assert result["before"] == {"thread": False, "pyqtgraph": False}  # nothing before the first read
    assert result["same_thread"] and not result["alive"]
    assert result["loaded"] == ["pyqtgraph", "yaml"]  # the missing one skipped, the next still imported
    assert result["pyqtgraph_on"] == "import-warmup"
    assert result["yaml_on"] == "import-warmup"
