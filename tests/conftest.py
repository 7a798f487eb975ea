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
