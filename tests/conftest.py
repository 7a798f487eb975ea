"""Shared fixtures: a temporary data home and store, and an in-process CLI runner."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from spark_trainer.store.store import Store

VENV_BIN = Path(sys.executable).parent

# Torch on one CPU thread here and in every process the tests start (workers, ranks, the app): the
# models are tiny, and on a small machine running two test processes, each with workers, threads that
# spin-wait for each other make a step several times slower (a 100-step run of the jobs tests' model:
# 78-91 s with 2 threads, 39-45 s with 1, measured in turns on a loaded 2-core machine). Before torch
# is imported; a value set from outside wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolate_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever touches the real user-data dir, even if it forgets --home, nor the real home record
    (spark_trainer.home_record) in the user's config dir."""
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(tmp_path_factory.mktemp("default-home")))
    monkeypatch.setenv("SPARK_TRAINER_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - tests.playground.trained.TrainedRun
    """A tiny causal-LM run trained once per test session (under 1 CPU-s once torch is imported; about 11
    with the imports, in a process that has none yet), shared by the tests of the playground server,
    `generate`, the Playground client and view. Not copied per user: what they do to
    its home (load its model, add samples, which each finds by its own path) does not change what
    another one reads. A test that changes more (a setting, a deletion, another run) takes a home of its
    own (`store`, or train_tiny_run on its tmp_path)."""
    from tests.playground.trained import train_tiny_run

    return train_tiny_run(tmp_path_factory.mktemp("playground") / "home")


@pytest.fixture
def store(home: Path):
    with Store.open(home) as opened:
        yield opened


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]):
    """Run `spark-trainer --home <home> ARGS...` in-process; returns code, stdout, stderr."""
    from spark_trainer.cli.main import main

    def run(*args: str, use_home: bool = True) -> CliResult:
        capsys.readouterr()
        argv = (["--home", str(home)] if use_home else []) + [str(a) for a in args]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse errors and --help
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def spark_trainer_exe() -> str:
    exe = VENV_BIN / "spark-trainer"
    return str(exe) if exe.exists() else "spark-trainer"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: tiny diffusion models run faster so than fighting other
    processes for several (use with `pytestmark = pytest.mark.usefixtures("one_thread")`)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """No worker is started: the ids of the runs a scheduler starts, in order, with this process standing
    in as their worker (`process.spawn_worker` replaced)."""
    import os

    from spark_trainer.jobs import process

    ids: list[int] = []

    def spawn(run_id: int, *_args: object) -> process.ProcessIdentity:
        ids.append(run_id)
        return process.identity(os.getpid())

    monkeypatch.setattr(process, "spawn_worker", spawn)
    return ids


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch):
    """This process's clock in New York (UTC-5 in winter), so that a time shown as stored (UTC) is told
    from one shown on the computer's clock; the zone it had is set back after."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@dataclass
class WindowsLike:
    """What `windows_like` recorded: every os.kill sent (pid, signal number)."""

    sent: list[tuple[int, int]]

    @property
    def signals(self) -> list[int]:
        return [sig for _pid, sig in self.sent]


@pytest.fixture
def windows_like(monkeypatch: pytest.MonkeyPatch) -> WindowsLike:
    """This process as the job-control code finds Windows: no process groups to signal (os.killpg,
    os.getpgid, signal.SIGKILL), no uid, no os.WNOHANG, os.pread or os.pwrite, no fcntl or resource
    module; an `msvcrt` module whose `locking` has Windows' semantics, simulated over Linux
    locks (tests/windows_msvcrt.py: it never ran on Windows).

    Windows has no signals between processes: os.kill(pid, SIGTERM) there is TerminateProcess, a hard
    kill. So every os.kill is recorded; only a kill (9, what psutil's kill stands for here: on
    Windows it is TerminateProcess, on Linux it would read the missing signal.SIGKILL) is delivered,
    and a test asserts that nothing else was asked of the OS. Workers this process spawns run as
    Linux processes; they notice a stop request only by polling its file, as they must on Windows.

    os.sysconf stays. Without it a process's start time is psutil's (the kernel's boot time, which
    drifts with the wall clock, plus the ticks since boot), while the Linux workers this process
    spawns record theirs with it (this boot's anchor plus the ticks): once the boot time had drifted
    (6 s within 15 hours on one machine), this process judged every live worker's pid "now belongs to another
    process" and marked its run interrupted. On Windows both sides take psutil's; the fallback without
    os.sysconf is run in a fresh interpreter (test_job_control_imports_and_falls_back_...)."""
    import fcntl
    import signal

    import psutil

    from tests import windows_msvcrt

    for name in ("killpg", "getpgid", "getuid", "WNOHANG", "pread", "pwrite"):
        monkeypatch.delattr(os, name, raising=False)
    monkeypatch.delattr(signal, "SIGKILL")
    monkeypatch.setitem(sys.modules, "msvcrt", windows_msvcrt.make(fcntl))
    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` raises ImportError
    monkeypatch.setitem(sys.modules, "resource", None)
    record = WindowsLike([])
    real_kill = os.kill

    def kill(pid: int, sig: int) -> None:
        record.sent.append((pid, int(sig)))
        if int(sig) == 9:
            real_kill(pid, 9)

    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr(psutil.Process, "kill", lambda self: self.send_signal(9))
    return record
