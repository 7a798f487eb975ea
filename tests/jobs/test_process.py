"""A worker's identity (pid and start time) across a step of the wall clock.

The kernel gives a process's start as clock ticks since boot; its wall-clock start is that plus the
boot time, which the kernel derives from the wall clock. When the clock is stepped (NTP correcting a
machine woken from sleep, a VM resumed or migrated, a leap second, `date -s`), the boot time every
process reads from then on moves by the step, while the start times already in the store do not.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from spark_trainer.jobs import control, process
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's boot time is Linux's")


@pytest.fixture
def anchors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own boot-time anchors (never the machine's, which other processes share)."""
    folder = tmp_path / "anchors"
    folder.mkdir()
    monkeypatch.setattr(process, "ANCHOR_DIR", folder, raising=False)
    monkeypatch.setattr(process, "_anchors", {}, raising=False)
    return folder


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _step_the_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """What a process started after a clock step reads: the kernel's boot time moved by the step
    (psutil reads it from /proc/stat at every call), and no anchor of its own yet."""
    from psutil import _pslinux

    real = _pslinux.boot_time
    monkeypatch.setattr(_pslinux, "boot_time", lambda: real() + seconds)
    monkeypatch.setattr(process, "_anchors", {}, raising=False)


def test_a_live_process_keeps_its_identity_when_the_clock_is_stepped(anchors, sleeper, monkeypatch) -> None:
    recorded = process.identity(sleeper.pid)
    assert recorded is not None
    assert abs(recorded.start_time - psutil.Process(sleeper.pid).create_time()) < 0.05  # a wall-clock time
    _step_the_clock(monkeypatch, 3600)
    assert process.is_alive(recorded.pid, recorded.start_time)
    assert not process.is_alive(recorded.pid, recorded.start_time - 5)  # a reused pid is still told apart


def test_after_a_clock_step_reconcile_keeps_a_live_run_and_cancel_stops_its_worker(
        store: Store, experiment, anchors, sleeper, monkeypatch) -> None:
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    runs.claim(store, make_picker([], 4, False))
    run = runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")
    me = process.identity(sleeper.pid)
    runs.update(store, run.id, pid=me.pid, pid_start_time=me.start_time)
    runs.beat(store, run.id)

    _step_the_clock(monkeypatch, -1)  # a leap second, or NTP stepping a fast clock back
    assert reconcile(store) == []
    assert runs.get(store, run.id).status == RunStatus.RUNNING

    stopped = control.cancel(store, run.id, grace_s=5)
    assert stopped.status == RunStatus.CANCELLED
    assert sleeper.wait(timeout=10) is not None  # the worker was really stopped, its GPUs really free
