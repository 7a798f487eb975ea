"""The app's file dialogs never open the files they list: Qt's own dialog read the first bytes of the
database's `-wal` and `-shm` files to show their type, and closing them dropped the app's SQLite locks
(POSIX locks belong to the process). A worker closing its connection then deleted the WAL the app was
still writing into: the app's writes were lost and the database damaged when it quit (seen in a GUI walk)."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[2]


def _shm_locks(home: Path) -> int:
    """POSIX locks this process holds on the home's `-shm` file (SQLite holds one while connected)."""
    inode = (home / "sparktrainer.db-shm").stat().st_ino
    with open("/proc/locks", encoding="utf-8") as locks:
        return sum(1 for line in locks if f":{inode} " in line and f" {os.getpid()} " in line.replace(":", " "))


def _show(qtbot, dialog) -> None:
    qtbot.addWidget(dialog)
    dialog.show()
    deadline = time.monotonic() + 2.0  # the listing and its types are read on Qt's threads
    while time.monotonic() < deadline:
        qtbot.wait(50)
    dialog.reject()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/locks")
def test_a_dialog_showing_the_data_home_keeps_the_apps_database_locks(store, qtbot) -> None:
    from PySide6.QtWidgets import QFileDialog

    from app import file_dialogs
    from spark_trainer.store import projects

    projects.list_all(store)  # connected: the -shm file exists and is locked by this process
    home = store.home.root
    assert _shm_locks(home) >= 1
    for mode in (QFileDialog.FileMode.ExistingFile, QFileDialog.FileMode.ExistingFiles, QFileDialog.FileMode.Directory):
        dialog = file_dialogs.make_dialog(None, "pick", str(home), mode=mode)
        dialog.setViewMode(QFileDialog.ViewMode.Detail)  # the Type column too
        _show(qtbot, dialog)
        assert _shm_locks(home) >= 1, mode
    _show(qtbot, file_dialogs.make_dialog(None, "save", str(home), save_as="run.yaml"))
    assert _shm_locks(home) >= 1

    # Qt's dialog as it comes drops them: what the helpers guard against.
    plain = QFileDialog(None, "plain", str(home))
    plain.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    _show(qtbot, plain)
    assert _shm_locks(home) == 0


def test_every_file_dialog_of_the_app_is_made_by_file_dialogs() -> None:
    """A QFileDialog made anywhere else (its static getOpenFileName & co. included) reads the files it lists."""
    found = [f"{path.relative_to(REPO)}:{n}" for path in sorted((REPO / "app").rglob("*.py")) if path.name != "file_dialogs.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if re.search(r"\bQFileDialog\b", line)]
    assert found == []
