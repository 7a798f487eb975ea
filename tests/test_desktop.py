"""What the app says when it cannot keep the computer awake while runs train, on each platform path:
the same plain words in the status bar (it read "cannot keep the system awake (no D-Bus)"), the
reason and what to do in the details."""

from __future__ import annotations

import stat
import sys
import types
from pathlib import Path

import pytest

from spark_trainer.desktop import SleepInhibitor

JARGON = ("D-Bus", "bus", "systemd", "caffeinate", "PATH", "SetThreadExecutionState", "inhibit")


def says_it_plainly(inhibitor: SleepInhibitor, *reason: str) -> None:
    assert inhibitor.hold() is False and not inhibitor.held
    assert "awake" in inhibitor.status
    assert not [word for word in JARGON if word in inhibitor.status], inhibitor.status
    assert all(part in inhibitor.detail for part in reason), inhibitor.detail
    assert "power settings" in inhibitor.detail  # what the user can do about it


def failing_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, error: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\necho '{error}' >&2\nexit 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


@pytest.mark.skipif(sys.platform == "win32", reason="Windows needs no helper program")
def test_no_helper_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    says_it_plainly(SleepInhibitor(), "not found")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd-inhibit is Linux's")
@pytest.mark.parametrize(("error", "reason"), [
    ("Failed to connect to bus: No such file or directory", "no D-Bus"),
    ("Access denied", "Access denied"),
])
def test_the_helper_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str, reason: str) -> None:
    failing_tool(tmp_path, monkeypatch, "systemd-inhibit", error)
    inhibitor = SleepInhibitor()
    says_it_plainly(inhibitor, error, reason)
    status = inhibitor.status
    monkeypatch.setenv("PATH", "")
    says_it_plainly(inhibitor, "not found")
    assert inhibitor.status == status  # one line for the user whatever the cause


@pytest.mark.skipif(sys.platform == "win32", reason="Windows needs no helper program")
def test_the_helper_cannot_be_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failing_tool(tmp_path, monkeypatch, "systemd-inhibit" if sys.platform.startswith("linux") else "caffeinate", "")
    for tool in (tmp_path / "bin").iterdir():
        tool.write_text("#!/nonexistent/interpreter\n")  # on PATH and executable, but exec fails
    says_it_plainly(SleepInhibitor(), "could not be started")


def test_windows_refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    kernel32 = types.SimpleNamespace(SetThreadExecutionState=lambda _flags: 0)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(kernel32=kernel32), raising=False)
    says_it_plainly(SleepInhibitor(), "Windows refused")


class _Refusing:
    """A platform that will not keep the computer awake, counting the tries."""

    held = False
    status, detail = "Can't keep the computer awake while runs train", "no helper"

    def __init__(self) -> None:
        self.tries = 0

    def hold(self) -> bool:
        self.tries += 1
        return False


def test_keep_awake_tries_once_per_spell_of_active_runs() -> None:
    # Shared by the app and `queue serve`: the helper is not started again on every read of the runs.
    from spark_trainer.desktop import KeepAwake

    refusing = _Refusing()
    awake = KeepAwake(refusing)  # type: ignore[arg-type]
    assert [awake.update(True) for _ in range(3)] == ["refused", None, None] and refusing.tries == 1
    assert awake.update(False) == "refusal over" and awake.update(False) is None
    assert awake.update(True) == "refused" and refusing.tries == 2
