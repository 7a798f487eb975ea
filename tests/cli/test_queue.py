"""`queue serve` left to run a queue overnight: a line for every run of the home that starts or stops,
whoever started it; one line of what ended when it stops (idle, Ctrl-C, SIGTERM or SIGHUP); the computer
kept awake while a run is active, and let sleep again after. No worker is started: the scheduler's pass is
replaced by a script of what other processes do meanwhile, and the sleep inhibitor by a recorder. And a
real `queue serve` stopped by a service manager (SIGTERM) or a closed terminal (SIGHUP) stops as Ctrl-C
does: it said nothing and exited 143, leaving its `.open/` mark for the next open to clear."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from spark_trainer.desktop import SleepInhibitor as REAL_INHIBITOR
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.presence import FOLDER
from spark_trainer.store.store import Store

Q, S, R, C, F, X = (RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED,
                    RunStatus.FAILED, RunStatus.CANCELLED)


class FakeInhibitor:
    """Records what `queue serve` asks of the sleep inhibitor, with whether a run was active then."""

    calls: list[str] = []

    def __init__(self) -> None:
        self.held = False
        self.status, self.detail = "not holding", ""

    def hold(self) -> bool:
        FakeInhibitor.calls.append("hold")
        self.held = True
        return True

    def release(self) -> None:
        FakeInhibitor.calls.append("release")
        self.held = False


@pytest.fixture
def night(store, monkeypatch: pytest.MonkeyPatch) -> Callable[[list[Callable[[], None]]], list[int]]:
    """Three queued runs; `night(ticks)` makes each scheduler pass do the next step of `ticks` instead of
    starting workers (then nothing), and returns the run ids."""
    from spark_trainer.jobs import scheduler

    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    ids = [runs.create(store, "e").id for _ in range(3)]
    FakeInhibitor.calls = []
    monkeypatch.setattr("spark_trainer.desktop.SleepInhibitor", FakeInhibitor)

    def script(ticks: list[Callable[[], None]]) -> list[int]:
        steps = iter(ticks)

        def one_pass(_store) -> list[int]:
            next(steps, lambda: None)()
            return []  # nothing started by this scheduler: a finishing worker's chain started them

        monkeypatch.setattr(scheduler, "schedule_once", one_pass)
        return ids

    return script


def _move(store, run_id: int, *path: RunStatus, error: str | None = None) -> None:
    for to in path:
        runs.transition(store, run_id, to, "test", error=error if to in (F, X) else None)


def test_serve_says_what_started_and_ended_and_sums_it_up_when_idle(store, cli, night) -> None:
    a, b, c = ids = night([])
    ticks = [lambda: _move(store, a, S, R),
             lambda: (_move(store, a, C), _move(store, b, S, F, error="CUDA out of memory\nTraceback ...")),
             lambda: _move(store, c, X)]
    night(ticks)
    result = cli("queue", "serve", "--interval", "0.01", "--until-idle")
    assert result.code == 0, result.err
    said = [line.split("] ", 1)[1] for line in result.err.splitlines() if line.startswith("[")]
    assert said == [f"run {a} (e) started on CPU", f"run {a} (e) completed 0 steps",
                    f"run {b} (e) started on CPU",  # b started and failed within one pass: both said
                    f"run {b} (e) failed: CUDA out of memory", f"run {c} (e) was cancelled"], result.err
    assert result.out == f"queue is idle; while it served: 1 completed, 1 failed (run {b}), 1 cancelled (run {c})\n"
    assert "keeping the computer awake" in result.err
    assert FakeInhibitor.calls == ["hold", "release"]  # held while run a trained, released once none did
    assert ids == [a, b, c]


def test_ctrl_c_sums_up_what_ended_and_lets_the_computer_sleep(store, cli, night) -> None:
    a, b, _c = night([])

    def interrupted() -> None:
        raise KeyboardInterrupt

    night([lambda: _move(store, a, S, R), lambda: _move(store, b, S, R, C), interrupted])
    result = cli("--json", "queue", "serve", "--interval", "0.01")
    assert result.code == 0, result.err
    assert result.json() == {"started": [], "ended": {"completed": [b]}}  # --json: the keys it had, and `ended`
    assert FakeInhibitor.calls == ["hold", "release"]  # run a still trains: released only because serve ended
    assert result.err.splitlines()[-1].endswith(f"run {b} (e) completed 0 steps")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd-inhibit is Linux's")
def test_a_computer_that_cannot_be_kept_awake_is_one_warning(store, cli, night, monkeypatch, tmp_path,
                                                              caplog) -> None:
    """The real inhibitor, its helper failing as systemd-inhibit does without D-Bus: one `warning:` line
    saying why and what to do, not the inhibitor's own log line beside it, nor a line every pass."""
    from spark_trainer import desktop

    tool = tmp_path / "bin" / "systemd-inhibit"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}:/usr/bin:/bin")
    a, b, c = night([])
    monkeypatch.setattr("spark_trainer.desktop.SleepInhibitor", REAL_INHIBITOR)
    night([lambda: _move(store, a, S, R), lambda: None, lambda: _move(store, b, S, R),
           lambda: _move(store, a, C), lambda: _move(store, b, C), lambda: _move(store, c, X)])
    result = cli("queue", "serve", "--interval", "0.01", "--until-idle")
    assert result.code == 0, result.err
    warned = [line for line in result.err.splitlines() if "awake" in line]
    assert len(warned) == 1 and warned[0].startswith(f"warning: {desktop.REFUSED}: systemd-inhibit"), result.err
    assert "Failed to connect to bus" in warned[0] and "power settings" in warned[0]
    assert not [r for r in caplog.records if "awake" in r.getMessage()]  # not said twice


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_queue_serve_stops_on_sigterm_and_sighup_as_on_ctrl_c(home: Path, signum: int) -> None:
    Store.open(home).close()  # made and migrated here, so the server's start is quick
    serve = subprocess.Popen([sys.executable, "-m", "spark_trainer", "--home", str(home), "queue", "serve",
                              "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    try:
        assert "scheduler running" in serve.stderr.readline()
        deadline = time.monotonic() + 60
        while not list((home / FOLDER).glob("*.lock")):  # the store opens just after that line
            assert serve.poll() is None and time.monotonic() < deadline, serve.communicate()
            time.sleep(0.05)
        # The mark comes as the store opens, a moment before the server starts watching runs (RunWatch):
        # a signal in that moment ends it before it served, without "while it served" (seen on a loaded
        # machine). Give it a few of its 0.1 s ticks.
        time.sleep(1.0)
        serve.send_signal(signum)
        out, err = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert serve.returncode == 0, err
    assert out == "scheduler stopped; running workers keep training; while it served: no run ended\n", (out, err)
    assert "Traceback" not in err and "error" not in err, err
    assert not list((home / FOLDER).glob("*.lock"))  # its mark released on the way out
