"""The `app` fixture of the menu-entry tests (tests/test_menu_entry.py, tests/cli/test_desktop_entry.py):
a temporary XDG_DATA_HOME, and this install's app in a folder whose name has a space."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer import menu_entry


@pytest.fixture
def app(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    program = tmp_path / "my venv" / "bin" / "spark-trainer-gui"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(menu_entry, "app_path", lambda: program)
    return program
