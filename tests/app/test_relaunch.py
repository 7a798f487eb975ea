"""Restarting the app at a new data home (app/relaunch.py): which command starts it again, and, for
real, that a click on "Restart at the new home" closes the app and a new app process opens the new
home (tests/app/restart_driver.py clicks; the new process is a plain `python -m app.main`)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from app.main import _parse, _relaunch
from app.relaunch import Relaunch, app_program
from spark_trainer import home_record
from spark_trainer.store import projects
from spark_trainer.store.store import Store
from tests.app import restart_driver

PY = [sys.executable, "-m", "app.main"]


def test_the_command_keeps_the_theme_and_leaves_the_home_to_the_record(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SPARK_TRAINER_HOME", raising=False)
    new = tmp_path / "new"
    home_record.set_chosen(new)  # as a move of the chosen home, or Settings, leaves it
    relaunch = _relaunch(_parse(["--home", str(tmp_path / "old"), "--theme", "light", "--view", "runs",
                                 "--run", "3"]))
    assert relaunch == Relaunch(theme="light")
    assert relaunch.command(new) == [*PY, "--theme", "light"]  # no old --home; the new window opens where it was
    assert Relaunch().command(new) == PY
    home_record.set_chosen(tmp_path / "chosen")  # a home given with --home moved: the choice stayed elsewhere
    assert Relaunch().command(new) == [*PY, "--home", str(new)]


def test_the_command_passes_the_new_home_when_the_environment_would_win(tmp_path, monkeypatch) -> None:
    new = tmp_path / "new"
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(tmp_path / "old"))
    assert Relaunch(theme="dark").command(new) == [*PY, "--theme", "dark", "--home", str(new)]
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(new))  # already points there: nothing to override
    assert Relaunch().command(new) == PY


def test_starts_that_only_show_themselves_never_restart(tmp_path) -> None:
    assert _relaunch(_parse(["--exit-when-shown"])) is None
    assert _relaunch(_parse(["--screenshot", str(tmp_path / "x.png")])) is None


def test_the_frozen_app_restarts_its_own_executable(monkeypatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delenv("APPIMAGE", raising=False)
    assert app_program() == (sys.executable,)  # installers/launcher.py takes GUI options as they are
    monkeypatch.setenv("APPIMAGE", "/opt/SparkTrainer.AppImage")  # its mount goes with this process
    assert app_program() == ("/opt/SparkTrainer.AppImage",)


def _apps_of(config_dir: Path) -> list[psutil.Process]:
    """Processes started for this test: they carry its config dir in their environment."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.pid != os.getpid() and proc.environ().get("SPARK_TRAINER_CONFIG_DIR") == str(config_dir):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture
def no_app_left(tmp_path):
    """After the test, no app it started is left running (each is killed, and the test fails if any was)."""
    yield
    left = _apps_of(tmp_path / "config")
    for proc in left:
        proc.kill()
    assert not left, f"left running: {[p.cmdline() for p in left]}"


def _wait_open(proc: psutil.Process, db: Path, timeout_s: float = 120) -> list[str]:
    """The files `proc` holds open once it has `db` open (the store opened there)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = [f.path for f in proc.open_files()]
        if str(db) in files:
            return files
        time.sleep(0.2)
    raise AssertionError(f"the new app never opened {db}; it has open: {[f.path for f in proc.open_files()]}")


def _close(proc: psutil.Process) -> None:
    """SIGTERM closes the app as the user does (app.main); it must go within a minute."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def test_after_a_move_the_restart_opens_the_new_home_in_a_new_app(tmp_path, monkeypatch, no_app_left) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    with Store.open(old) as store:
        projects.create(store, "kept")
    done = restart_driver.run(tmp_path, "move-restart", new,
                              ["--home", str(old), "--theme", "light", "--view", "runs"])
    assert done.code == 0, (done.code, done.out, done.err[-3000:])
    assert "clicked Restart at the new home" in done.out
    pid = done.restarted_pid()
    assert pid is not None, done.err[-3000:]
    app = psutil.Process(pid)
    try:
        # The app was given its home with --home, not the chosen one: the move leaves the choice alone and
        # the restart names the new place; --theme is kept, the old --home is not passed.
        assert app.cmdline() == [*PY, "--theme", "light", "--home", str(new)]
        files = _wait_open(app, new / "sparktrainer.db")
        assert not any(f.startswith(str(old)) for f in files) and not old.exists()
        monkeypatch.setenv("SPARK_TRAINER_CONFIG_DIR", str(tmp_path / "config"))
        assert home_record.read_record().chosen is None
        saved = (tmp_path / "xdg" / "SparkTrainer" / "SparkTrainer.conf").read_text()
        assert "last_view=settings" in saved  # the old window closed as a Quit does: its state saved first
    finally:
        _close(app)


def test_a_restart_after_choosing_a_home_passes_it_when_the_environment_would_win(tmp_path, no_app_left) -> None:
    old, new = tmp_path / "old", tmp_path / "chosen"
    with Store.open(old):
        pass
    done = restart_driver.run(tmp_path, "change-restart", new, [], env_home=old)
    assert done.code == 0, (done.code, done.out, done.err[-3000:])
    pid = done.restarted_pid()
    assert pid is not None, done.err[-3000:]
    app = psutil.Process(pid)
    try:
        assert app.cmdline() == [*PY, "--home", str(new)]  # $SPARK_TRAINER_HOME still says old: --home wins
        _wait_open(app, new / "sparktrainer.db")
    finally:
        _close(app)
    assert (old / "sparktrainer.db").is_file()  # choosing another home leaves this one as it is
