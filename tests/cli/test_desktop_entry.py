"""`spark-trainer desktop-entry` (spark_trainer/cli/desktop_entry.py): install, show, remove, as text and JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests import menu_app

app = menu_app.app  # the fixture: a temporary XDG_DATA_HOME and this install's app


def test_install_show_remove_and_remove_again(cli, app: Path, tmp_path: Path) -> None:
    desktop = tmp_path / "xdg" / "applications" / "sparktrainer.desktop"
    assert f"no menu entry at {desktop}" in cli("desktop-entry").out
    done = cli("desktop-entry", "install", "--json")
    assert done.code == 0
    written = json.loads(done.out)
    assert written["desktop"] == str(desktop) and written["exec"] == str(app) and len(written["icons"]) == 2
    assert f'Exec="{app}"' in desktop.read_text(encoding="utf-8")
    shown = cli("desktop-entry", "show")
    assert shown.code == 0 and str(app) in shown.out and "stale" not in shown.out
    assert "replaced" in cli("desktop-entry", "install").out
    removed = cli("desktop-entry", "remove")
    assert removed.code == 0 and str(desktop) in removed.out and not desktop.exists()
    again = cli("desktop-entry", "remove", "--json")
    assert again.code == 0 and json.loads(again.out)["removed"] == []
    assert "nothing to remove" in cli("desktop-entry", "remove").out


def test_show_reports_an_entry_whose_venv_is_gone(cli, app: Path) -> None:
    assert cli("desktop-entry", "install").code == 0
    shutil.rmtree(app.parent.parent)
    shown = cli("desktop-entry", "show")
    assert shown.code == 0 and "stale" in shown.out and str(app) in shown.out
    assert json.loads(cli("desktop-entry", "--json").out)["stale"] is True


def test_an_entry_not_written_here_is_refused_with_exit_2_naming_it(cli, app: Path, tmp_path: Path) -> None:
    desktop = tmp_path / "xdg" / "applications" / "sparktrainer.desktop"
    desktop.parent.mkdir(parents=True)
    desktop.write_text("[Desktop Entry]\nExec=mine\n")
    for action in ("install", "remove"):
        done = cli("desktop-entry", action)
        assert done.code == 2 and str(desktop) in done.err and len(done.err.strip().splitlines()) == 1


def test_xdg_data_home_on_a_file_is_bad_input_naming_it(cli, app: Path, tmp_path: Path) -> None:
    (tmp_path / "xdg").write_text("")
    done = cli("desktop-entry", "install")
    assert done.code == 2 and str(tmp_path / "xdg") in done.err


def test_macos_and_windows_get_one_line(cli, monkeypatch) -> None:
    monkeypatch.setattr("sys.platform", "win32")
    done = cli("desktop-entry", "install")
    assert done.code == 2 and "Linux-only" in done.err and len(done.err.strip().splitlines()) == 1
