"""Start the real app (`app.main.main`) and, once its first view is shown, do one thing in Settings
the way a user does, by clicking the real buttons; for the restart tests.

    python tests/app/restart_driver.py ACTION DEST [app.main arguments...]

ACTION is one of:
  move-restart   Move data home to DEST, then "Restart at the new home"
  move-close     Move data home to DEST, then "Close SparkTrainer"
  change-restart Change… the home to DEST, then Settings' "Restart at the new home"

The app is unchanged: this wrapper only clicks. It prints one line per step ("moved", "clicked ...")
and a line starting with FAILED (then exits 5) when a step cannot be done. The app it restarts is a
plain `python -m app.main`, not this wrapper.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app import main as app_main  # noqa: E402
from app.main_window import MainWindow  # noqa: E402

ACTIONS = ("move-restart", "move-close", "change-restart")


def _fail(text: str) -> None:
    print(f"FAILED {text}", flush=True)
    QApplication.exit(5)


def _drive(window: MainWindow, action: str, dest: str) -> None:
    settings = window.show_view("settings")
    if action == "change-restart":
        settings.choose_data_home(dest)
        if not settings.restart_home.isVisible():
            _fail(f"no restart button in Settings; the note says {settings.home_note.text()!r}")
            return
        print("clicked restart (settings)", flush=True)
        settings.restart_home.click()
        return
    settings.move_data_home(dest)

    def step() -> None:
        dialog = settings.move_dialog
        if dialog.state == "ready":
            dialog.move_button.click()
        elif dialog.state == "done":
            print("moved", flush=True)
            button = dialog.restart_button if action == "move-restart" else dialog.quit_button
            print(f"clicked {button.text()}", flush=True)
            button.click()
            return
        elif dialog.state in ("refused", "failed"):
            _fail(dialog.message.text())
            return
        QTimer.singleShot(50, step)

    step()


@dataclass
class Finished:
    code: int | None  # None: still running at the timeout (then killed)
    out: str
    err: str

    def restarted_pid(self) -> int | None:
        """The new app's process id, from the line the app prints when it restarts."""
        found = re.search(r"restarting at .* \(process (\d+)\)", self.err)
        return int(found.group(1)) if found else None


def run(tmp: Path, action: str, dest: Path, argv: list[str], *, env_home: Path | None = None,
        timeout_s: float = 120) -> Finished:
    """Run this driver offscreen with its own config dir and QSettings (under `tmp`), and
    $SPARK_TRAINER_HOME set to `env_home` or unset; stdout and stderr go to files, which the app it
    restarts inherits (a pipe would stay open as long as that app runs)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_TRAINER_HOME", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", SPARK_TRAINER_CONFIG_DIR=str(tmp / "config"),
               XDG_CONFIG_HOME=str(tmp / "xdg"), PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    if env_home is not None:
        env["SPARK_TRAINER_HOME"] = str(env_home)
    out, err = tmp / "driver.out", tmp / "driver.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, __file__, action, str(dest), *argv], env=env, cwd=str(tmp),
                                stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        code: int | None = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        code = None
    return Finished(code, out.read_text(), err.read_text())


def main() -> int:
    action, dest, *argv = sys.argv[1:]
    if action not in ACTIONS:
        print(f"unknown action {action!r}; actions are {', '.join(ACTIONS)}", file=sys.stderr)
        return 2
    shown = MainWindow.show_first_view

    def show_first_view(self: MainWindow, name: str | None = None) -> None:
        shown(self, name)
        QTimer.singleShot(0, lambda: _drive(self, action, dest))

    MainWindow.show_first_view = show_first_view  # type: ignore[method-assign]
    return app_main.main(argv)


if __name__ == "__main__":
    sys.exit(main())
