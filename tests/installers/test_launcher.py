"""The frozen app's launcher (installers/launcher.py) gives each role the command line the code that
starts it builds: a worker, the playground's serving process, the app itself after a restart.

The frozen executable is `SparkTrainer ARGS`; here the launcher runs as a script with the argument
tail those builders produce when `sys.frozen` is set, and `--help` shows which parser took them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).resolve().parents[2] / "installers" / "launcher.py"
PYTHON = sys.executable  # this Python, before `frozen` stands a frozen executable in its place


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> str:
    """Builders see a frozen app whose executable is `exe`; returns `exe`."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/SparkTrainer/SparkTrainer")
    return sys.executable


def _launch_help(tail: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, str(LAUNCHER), *tail, "--help"], capture_output=True, text=True,
                          timeout=120, cwd=LAUNCHER.parents[1])


def test_the_playground_server_command_reaches_the_command_line_role(frozen: str, tmp_path: Path) -> None:
    from spark_trainer.playground.server import serve_command

    command = serve_command(tmp_path, "cpu", 60)
    assert command[0] == frozen
    done = _launch_help(command[1:])
    assert done.returncode == 0, done.stderr
    assert "usage: spark-trainer playground-serve" in done.stdout


def test_the_worker_command_reaches_the_worker_role(frozen: str) -> None:
    from spark_trainer.jobs.process import worker_command

    command = worker_command(7, "--evaluation", "3")
    assert command[0] == frozen
    done = _launch_help(command[1:])
    assert done.returncode == 0, done.stderr
    assert "usage: spark-trainer worker" in done.stdout


def test_a_restart_reaches_the_desktop_app(frozen: str, tmp_path: Path) -> None:
    from app.relaunch import Relaunch

    command = Relaunch(theme="dark").command(tmp_path)
    assert command[0] == frozen
    done = _launch_help(command[1:])
    assert done.returncode == 0, done.stderr
    assert "usage: spark-trainer-gui" in done.stdout


def test_the_keeper_command_reaches_the_keeper_role(frozen: str, tmp_path: Path) -> None:
    # A worker's keeper (spark_trainer/jobs/chain_keeper.py) is the frozen executable's `keeper` role: for
    # a worker already gone and a home without a database it exits 0 at once, saying nothing.
    from spark_trainer.jobs.chain_keeper import command

    tail = command(7, 1, 0.0)[1:]
    assert tail[0] == "keeper"
    done = subprocess.run([PYTHON, str(LAUNCHER), *tail], capture_output=True, text=True, timeout=120,
                          cwd=LAUNCHER.parents[1], env={**__import__("os").environ,
                                                        "SPARK_TRAINER_HOME": str(tmp_path / "none")})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not (tmp_path / "none").exists()
