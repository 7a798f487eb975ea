"""scripts/check_system_libs.py: as root on Debian it installs Qt's libraries with apt-get (CI relies on
it), unless SPARK_TRAINER_NO_APT says not to (`make` runs it with no way to pass --no-install)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_system_libs.py"


@pytest.fixture
def script(monkeypatch):
    """The script as root on Debian with xvfb missing; apt-get recorded, never run."""
    spec = importlib.util.spec_from_file_location("check_system_libs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.installs = []
    ok = SimpleNamespace(ok=True, packages=(), platform="offscreen", problem=lambda: "")
    monkeypatch.setattr(module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(module.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(module, "check_platform", lambda platform: ok)
    monkeypatch.setattr(module, "not_installed", lambda packages: ["xvfb"])
    monkeypatch.setattr(module, "apt_install", lambda packages: module.installs.append(packages) or True)
    monkeypatch.setattr(module, "qt_starts", lambda platform: (True, ""))
    monkeypatch.setattr(sys, "argv", ["check_system_libs.py"])
    monkeypatch.delenv("SPARK_TRAINER_NO_APT", raising=False)
    return module


def test_as_root_it_still_installs_by_default(script) -> None:
    assert script.main(["--platform", "offscreen"]) == 0
    assert script.installs == [["xvfb"]]


@pytest.mark.parametrize(("value", "installs"), [("1", False), ("yes", False), ("0", True), ("", True)])
def test_spark_trainer_no_apt_turns_apt_get_off(script, monkeypatch, value: str, installs: bool) -> None:
    monkeypatch.setenv("SPARK_TRAINER_NO_APT", value)
    assert script.main(["--platform", "offscreen"]) == 0
    assert bool(script.installs) == installs
