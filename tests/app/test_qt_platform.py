"""Which Qt platform the app asks for, what it lacks, and the app's fallback when it cannot open it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.qt_platform import XCB_PACKAGES, PlatformCheck, check_platform, wanted_platform

REPO = Path(__file__).resolve().parents[2]


def test_the_platform_follows_the_session() -> None:
    assert wanted_platform({"DISPLAY": ":0"}) == "xcb"
    assert wanted_platform({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}) == "wayland"
    assert wanted_platform({}) == "offscreen"
    assert wanted_platform({"QT_QPA_PLATFORM": "xcb;offscreen", "WAYLAND_DISPLAY": "w"}) == "xcb"


def test_a_missing_library_asks_for_the_whole_xcb_set() -> None:
    check = PlatformCheck("xcb", ("libxcb-cursor.so.0",))
    assert not check.ok
    assert set(XCB_PACKAGES) <= set(check.packages)
    assert "missing libxcb-cursor.so.0" in check.message()
    assert check.apt_line().startswith("sudo apt-get install -y ") and "libxcb-cursor0" in check.apt_line()
    assert PlatformCheck("xcb", ()).packages == ()


def test_offscreen_loads_here() -> None:
    """The GUI tests run offscreen, so its libraries must resolve on any machine that runs them."""
    assert check_platform("offscreen").ok


def test_an_unreachable_display_falls_back_with_a_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":987", PYTHONPATH=str(REPO), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, "-m", "app.main", "--home", str(tmp_path / "home"), "--exit-when-shown"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "shown_at=" in done.stdout
    if check_platform("xcb").ok:
        assert "could not open the display ':987'" in done.stderr
    else:  # the libraries are missing here: the app names them instead
        assert "the Qt 'xcb' platform cannot load: missing" in done.stderr
    assert "running offscreen" in done.stderr.lower()
