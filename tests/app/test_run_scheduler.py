"""Keeping the system awake while runs are active, where the platform refuses: the status bar says
so once, short, with the tool's own words in the tooltip. Seen on a real display without D-Bus:
"cannot keep the system awake: Failed to connect to bus: No such file or directory" came back on
every read of the runs while they were active (systemd-inhibit was started again each time), cut
off at 1024 px."""

from __future__ import annotations

import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from tests.app.test_part2_views import _run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd-inhibit is Linux's")


@pytest.fixture
def no_dbus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A systemd-inhibit that fails as the real one does on a machine without D-Bus, counting its starts."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    starts = tmp_path / "starts"
    tool = bin_dir / "systemd-inhibit"
    tool.write_text(f"#!/bin/sh\necho started >> {starts}\n"
                    "echo 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return starts


def test_no_dbus_is_said_once_short_with_the_details_in_the_tooltip(store, window, qtbot, no_dbus) -> None:
    said: list[str] = []
    window.ctx.status_message.connect(said.append)
    scheduler = window.ctx.scheduler
    scheduler.model.poller.scheduling = True  # as start() does, without starting workers
    running = runs.get(store, _run(store, "training", 1e-3, [3.0], status=RunStatus.RUNNING).id)
    model = window.ctx.model.runs
    window.resize(1024, 700)
    for step in range(4):  # every read of the runs while one is active
        model.runs_updated.emit([replace(running, step=step)])
    label = window.awake_status
    # In the user's words (it read "cannot keep the system awake (no D-Bus)"); the tool's in the tooltip.
    assert label.isVisible() and label.text() == "Can't keep the computer awake while runs train"
    assert "Failed to connect to bus: No such file or directory" in label.toolTip()
    assert "power settings" in label.toolTip()
    assert no_dbus.read_text().count("started") == 1, "the helper was started again on every read"
    assert not [s for s in said if "awake" in s], said  # the label says it; no flashing message each read
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())
    window.grab().save(str(store.home.root / "status_bar.png"))

    model.runs_updated.emit([replace(running, status=RunStatus.COMPLETED)])  # nothing active: nothing to say
    assert not label.isVisible()
    model.runs_updated.emit([replace(running, step=9)])  # active again: one new try
    assert no_dbus.read_text().count("started") == 2 and label.isVisible()
