"""SIGTERM (a session logout, `kill`) ends the app as closing its window does: the window's size and
position are saved, and the scheduler and store poller stop before the process exits."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time

from tests.conftest import subprocess_env

PROBE = """
import json, sys
import app.main
import app.main_window
from app.context import AppContext

seen = {"closed": False, "shutdown": None}
original_close = app.main_window.MainWindow.closeEvent

def close_event(self, event):
    original_close(self, event)
    seen["closed"] = event.isAccepted()

app.main_window.MainWindow.closeEvent = close_event
original_shutdown = AppContext.shutdown

def shutdown(self, wait_s=5.0):
    seen["shutdown"] = original_shutdown(self, wait_s)
    seen["scheduling"] = self.scheduler.running
    seen["polling"] = self.model.poller._timer.isActive() or self.model.poller.busy
    return seen["shutdown"]

AppContext.shutdown = shutdown
original_start = app.main._start_scheduler

def start_scheduler(window):
    original_start(window)
    window.resize(760, 540)  # inside the offscreen screen (800x600): restored as it is
    print("READY", flush=True)

app.main._start_scheduler = start_scheduler
code = app.main.main(["--home", sys.argv[1], "--view", "projects"])
print("RESULT " + json.dumps({"code": code, **seen}), flush=True)
"""


def _wait_for_line(proc: subprocess.Popen, wanted: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(wanted):
                return
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"the app never printed {wanted}: {proc.stderr.read()[-2000:] if proc.poll() is not None else ''}")


def test_sigterm_closes_the_window_saving_its_geometry(store, tmp_path, qapp) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMainWindow

    config = tmp_path / "config"
    env = subprocess_env(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(config))
    proc = subprocess.Popen([sys.executable, "-c", PROBE, str(store.home.root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for_line(proc, "READY", 120)
        time.sleep(0.5)  # the event loop idles: nothing Python runs until a signal wakes it
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}: {err[-2000:]}"
    results = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert results, err[-2000:]
    result = json.loads(results[0].removeprefix("RESULT "))
    assert result["code"] == 0
    assert result["closed"] is True and result["shutdown"] is True
    assert result["scheduling"] is False and result["polling"] is False

    files = list(config.rglob("SparkTrainer.conf"))
    assert len(files) == 1, list(config.rglob("*"))
    saved = QSettings(str(files[0]), QSettings.Format.NativeFormat)
    assert saved.value("window/last_view") == "projects"
    restored = QMainWindow()
    assert restored.restoreGeometry(saved.value("window/geometry"))
    assert (restored.width(), restored.height()) == (760, 540)
