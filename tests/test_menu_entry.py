"""spark_trainer/menu_entry.py: the per-user menu entry a source install writes, from the .deb's template."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from spark_trainer import menu_entry
from spark_trainer.errors import BadInput, Conflict, OperationFailed
from tests import menu_app

ROOT = Path(__file__).resolve().parents[1]

app = menu_app.app  # the fixture: a temporary XDG_DATA_HOME and this install's app


def test_install_writes_the_debs_template_with_this_installs_app_and_icons(app: Path, tmp_path: Path) -> None:
    done = menu_entry.install()
    desktop = tmp_path / "xdg" / "applications" / "sparktrainer.desktop"
    assert done.desktop == desktop and not done.replaced
    text = desktop.read_text(encoding="utf-8")
    assert f'Exec="{app}"' in text.splitlines() and f"TryExec={app}" in text.splitlines()
    # everything else is the template's, line for line (one source of truth)
    template = (ROOT / "installers" / "linux" / "sparktrainer.desktop").read_text(encoding="utf-8").splitlines()
    kept = [line for line in text.splitlines() if not line.startswith(("Exec=", "TryExec=", "X-SparkTrainer"))]
    assert kept == [line for line in template if not line.startswith("Exec=")]
    icons = tmp_path / "xdg" / "icons" / "hicolor"
    assert (icons / "256x256" / "apps" / "sparktrainer.png").read_bytes() == \
        (ROOT / "resources" / "icons" / "sparktrainer.png").read_bytes()
    assert (icons / "scalable" / "apps" / "sparktrainer.svg").is_file()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_the_written_entry_passes_desktop_file_validate(app: Path) -> None:
    checked = subprocess.run(["desktop-file-validate", str(menu_entry.install().desktop)],
                             capture_output=True, text=True)
    # a "hint:" is advice (the template's two main categories, as in the .deb); errors fail
    assert checked.returncode == 0 and "error" not in checked.stdout, checked.stdout


def test_status_reads_exec_back_and_reports_a_stale_entry(app: Path) -> None:
    menu_entry.install()
    state = menu_entry.status()
    assert state.installed and state.ours and state.exec == str(app) and not state.stale
    shutil.rmtree(app.parent.parent)  # the venv was deleted
    state = menu_entry.status()
    assert state.exec == str(app) and state.stale


def test_remove_deletes_what_install_wrote_and_then_says_there_is_nothing(app: Path, tmp_path: Path) -> None:
    mine = tmp_path / "xdg" / "applications" / "other.desktop"
    mine.parent.mkdir(parents=True)
    mine.write_text("[Desktop Entry]\n")
    written = menu_entry.install()
    removed = menu_entry.remove()
    assert sorted(removed.removed) == sorted([written.desktop, *written.icons])
    assert not any(p.exists() for p in removed.removed) and mine.is_file()
    assert menu_entry.remove().removed == []


def test_without_the_entry_remove_takes_only_icons_identical_to_this_installs(app: Path) -> None:
    written = menu_entry.install()
    written.desktop.unlink()  # deleted by hand
    png, svg = written.icons
    svg.write_text("<svg>someone else's</svg>")
    assert menu_entry.remove().removed == [png]
    assert svg.is_file()


def test_an_entry_this_command_did_not_write_is_neither_replaced_nor_removed(app: Path, tmp_path: Path) -> None:
    desktop = tmp_path / "xdg" / "applications" / "sparktrainer.desktop"
    desktop.parent.mkdir(parents=True)
    desktop.write_text("[Desktop Entry]\nExec=my-own\n")
    with pytest.raises(Conflict, match=str(desktop)):
        menu_entry.install()
    with pytest.raises(Conflict, match=str(desktop)):
        menu_entry.remove()
    assert desktop.read_text() == "[Desktop Entry]\nExec=my-own\n"


def test_an_install_without_the_app_names_the_path(app: Path) -> None:
    app.unlink()
    with pytest.raises(OperationFailed, match=str(app)):
        menu_entry.install()


@pytest.mark.parametrize("path", ["/opt/spark/bin/gui", "/home/a b/gui", '/x/"q"$`\\y/gui', "/x/100%/gui"])
def test_exec_quoting_reads_back_as_the_same_path(path: str) -> None:
    value = menu_entry.quote_exec(path)
    assert menu_entry.exec_program(value) == path
    assert value.startswith('"') == (path not in ("/opt/spark/bin/gui", "/x/100%/gui"))  # quoted where reserved


def test_a_relative_xdg_data_home_is_ignored_as_the_spec_says(monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    assert menu_entry.placement().data_home == Path.home() / ".local" / "share"


def test_other_systems_get_one_line_naming_what_to_use(monkeypatch) -> None:
    monkeypatch.setattr("sys.platform", "darwin")
    with pytest.raises(BadInput, match="Linux-only.*installers/macos/README.md"):
        menu_entry.require_linux()
