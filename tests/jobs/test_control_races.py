"""Run control from several front ends at once: a pause or cancel in one process never marks a
worker that another process started meanwhile (issued with real processes standing in for workers)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

# A worker whose checkpoint takes a while: on SIGTERM it says so in a file, then exits 3 s later.
SLOW_STOP = """
import signal, sys, time, pathlib
def on_term(*_):
    pathlib.Path(sys.argv[1]).write_text("stopping")
    time.sleep(3)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
time.sleep(120)
"""


def _worker(store: Store, run: Run, script: str, *args: str) -> subprocess.Popen:
    """Claim `run` as a scheduler would and record a real process as its running worker."""
    runs.claim(store, make_picker([], 4, False))
    proc = subprocess.Popen([sys.executable, "-c", script, *args], start_new_session=True, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline() == "ready\n"  # its signal handler is in place
    me = process.identity(proc.pid)
    runs.transition(store, run.id, RunStatus.RUNNING, "worker started", expect={RunStatus.STARTING},
                    pid=proc.pid, pid_start_time=me.start_time if me else None)
    return proc


def _wait_for(path: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_a_slow_pause_leaves_alone_the_worker_a_resume_started_meanwhile(store: Store, home: Path, experiment,
                                                                        tmp_path: Path) -> None:
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    marker = tmp_path / "term"
    first = _worker(store, run, SLOW_STOP, str(marker))
    second = None
    paused: list[Run] = []

    def pause_from_another_front_end() -> None:
        with Store.open(home) as other:
            paused.append(control.pause(other, run.id, grace_s=30))

    pausing = threading.Thread(target=pause_from_another_front_end)
    pausing.start()
    try:
        _wait_for(marker)
        # The first worker saves its checkpoint and records the pause (as a real worker does) ...
        runs.transition(store, run.id, RunStatus.PAUSED, "paused by request; checkpoint at step 4")
        # ... and, while its process is still exiting, the user resumes from the GUI: a new worker starts.
        runs.transition(store, run.id, RunStatus.QUEUED, "resume requested", expect={RunStatus.PAUSED})
        second = _worker(store, run, "import time; print('ready', flush=True); time.sleep(120)")
        pausing.join(timeout=60)
        assert not pausing.is_alive()
        now = runs.get(store, run.id)
        assert (now.status, now.pid) == (RunStatus.RUNNING, second.pid), runs.events(store, run.id)[-1]
        assert paused[0].status == RunStatus.RUNNING  # what `run pause` printed: the run is running again
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait()


def test_cancel_of_a_queued_run_that_a_scheduler_starts_meanwhile_stops_its_worker(store: Store, home: Path,
                                                                                   experiment, tmp_path: Path) -> None:
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    at_write, go_on = threading.Event(), threading.Event()

    def hold_at_the_write(frame, event, _arg):  # the cancel has read "queued" and is about to write
        if event == "call" and frame.f_code is runs.transition.__code__ and not go_on.is_set():
            at_write.set()
            go_on.wait(30)

    outcome: list[object] = []

    def cancel_from_another_front_end() -> None:
        sys.settrace(hold_at_the_write)
        try:
            with Store.open(home) as other:
                outcome.append(control.cancel(other, run.id, grace_s=30))
        except Exception as exc:  # noqa: BLE001 - the test shows what the user would have seen
            outcome.append(exc)
        finally:
            sys.settrace(None)

    cancelling = threading.Thread(target=cancel_from_another_front_end)
    cancelling.start()
    marker = tmp_path / "term"
    worker = None
    try:
        assert at_write.wait(30)
        worker = _worker(store, run, SLOW_STOP, str(marker))  # `queue serve` starts it just then
        go_on.set()
        cancelling.join(timeout=60)
        assert not cancelling.is_alive()
        assert isinstance(outcome[0], Run), outcome[0]  # not "run 1 is running; this needs it to be queued"
        assert outcome[0].status == RunStatus.CANCELLED
        assert worker.wait(timeout=30) == 0 and marker.exists()  # its worker was asked to stop, and did
    finally:
        go_on.set()
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
