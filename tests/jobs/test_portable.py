"""Job control where there are no POSIX signals, as on Windows, simulated on Linux (the `windows_like`
fixture, tests/conftest.py): a stop is asked by its request file alone, which the worker polls; a hard
kill ends the process tree through psutil, children first; nothing imports or calls a name Windows
lacks. Not yet run on Windows itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from spark_trainer.jobs import control, portable, process
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.reporting import Commands, StopKind, StopRequested

# A worker that takes no notice of its stop request, with a child that starts a grandchild; prints the
# pids of both, then sleeps.
TREE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(grandchild.pid, flush=True)
time.sleep(120)
'''], stdout=subprocess.PIPE, text=True)
print(child.pid, child.stdout.readline().strip(), flush=True)
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def tree():
    """A TREE process: (Popen, child pid, grandchild pid); all three killed afterwards whatever happened."""
    proc = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    child, grandchild = (int(p) for p in proc.stdout.readline().split())
    yield proc, child, grandchild
    for pid in (grandchild, child, proc.pid):
        try:
            psutil.Process(pid).send_signal(9)
        except psutil.Error:
            pass
    proc.wait()


def _running(store: Store, experiment, pid: int) -> Run:
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    runs.claim(store, make_picker([], 4, False))
    runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")
    me = process.identity(pid)
    runs.update(store, run.id, pid=me.pid, pid_start_time=me.start_time)
    return runs.get(store, run.id)


def test_without_the_posix_names_there_are_no_group_signals(windows_like) -> None:
    from spark_trainer.jobs import portable

    assert not portable.posix_signals()


def test_on_posix_there_are_group_signals() -> None:
    from spark_trainer.jobs import portable

    assert portable.posix_signals() == (os.name == "posix")


def test_a_detached_process_gets_its_own_group_on_posix_and_a_new_group_without_a_window_on_windows(
        monkeypatch) -> None:
    from spark_trainer.jobs import portable

    assert portable.spawn_options() == {"start_new_session": True}
    assert portable.spawn_options(detached=False) == {}
    monkeypatch.setattr(sys, "platform", "win32")
    assert portable.spawn_options() == {"creationflags": 0x00000200 | 0x08000000}  # NEW_PROCESS_GROUP, NO_WINDOW
    assert portable.spawn_options(detached=False) == {"creationflags": 0x08000000}


def test_spawn_worker_starts_it_with_those_options(monkeypatch, tmp_path: Path) -> None:
    from spark_trainer.jobs import portable

    seen: dict = {}

    class Started:
        pid = os.getpid()

    def popen(_cmd, **kwargs):
        seen.update(kwargs)
        return Started()

    monkeypatch.setattr(portable, "spawn_options", lambda detached=True: {"creationflags": 0x08000200})
    monkeypatch.setattr(process.subprocess, "Popen", popen)
    process.spawn_worker(1, tmp_path / "run", tmp_path, [])
    assert seen["creationflags"] == 0x08000200 and "start_new_session" not in seen


def test_a_hard_kill_ends_the_whole_tree_children_first(windows_like, tree) -> None:
    proc, child, grandchild = tree
    killed: list[int] = []
    real = psutil.Process.kill

    def kill(self):
        killed.append(self.pid)
        real(self)

    psutil.Process.kill = kill
    try:
        process.kill_group(proc.pid, process.identity(proc.pid).start_time)
    finally:
        psutil.Process.kill = real
    proc.wait()  # killed: no timeout (it would need os.WNOHANG)
    assert all(_gone(pid) for pid in (child, grandchild))
    assert killed[-1] == proc.pid and set(killed) == {proc.pid, child, grandchild}
    assert windows_like.signals == [9, 9, 9]


def test_a_process_tree_counts_as_the_workers_group(windows_like, tree) -> None:
    proc, child, grandchild = tree
    assert portable.in_group(proc.pid, {grandchild})
    assert portable.in_group(proc.pid, {proc.pid})
    assert not portable.in_group(proc.pid, {os.getpid()})
    assert not portable.in_group(child, {proc.pid})  # the parent is not in its child's group


def test_a_worker_deaf_to_its_request_is_killed_with_its_tree_after_the_grace_and_never_signalled(
        store: Store, experiment, windows_like, tree) -> None:
    proc, child, grandchild = tree
    run = _running(store, experiment, proc.pid)
    stopped = control.cancel(store, run.id, grace_s=1.0)
    proc.wait()  # killed: no timeout (it would need os.WNOHANG)
    assert stopped.status == RunStatus.CANCELLED
    assert "killed after the 1 s grace period" in runs.events(store, run.id)[-1].reason
    assert all(_gone(pid) for pid in (child, grandchild))
    assert (Path(run.run_dir) / control.STOP_REQUEST).read_text() == "cancel"  # what it was asked
    assert set(windows_like.signals) == {9}  # no SIGTERM: on Windows that would have been a hard kill


def test_a_stalled_worker_is_killed_with_its_tree(store: Store, experiment, windows_like, tree, monkeypatch) -> None:
    from spark_trainer.jobs import reconcile as reconciling
    from spark_trainer.store.entities import utcnow

    proc, child, grandchild = tree
    settings.set_value(store, "heartbeat_timeout_seconds", 1)
    settings.set_value(store, "stall_grace_seconds", 1)
    run = _running(store, experiment, proc.pid)
    runs.update(store, run.id, heartbeat_at=utcnow() - timedelta(seconds=30))
    assert reconcile(store) == [] and runs.get(store, run.id).status == RunStatus.STALLED
    later = utcnow() + timedelta(seconds=30)
    monkeypatch.setattr(reconciling, "utcnow", lambda: later)
    assert reconcile(store) == [run.id]
    proc.wait()  # killed: no timeout (it would need os.WNOHANG)
    assert all(_gone(pid) for pid in (child, grandchild))
    assert "process group was killed" in runs.get(store, run.id).error
    assert set(windows_like.signals) == {9}


def test_a_process_identity_without_a_uid(windows_like, tmp_path: Path, monkeypatch) -> None:
    for name in ("LOGNAME", "USER", "LNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USERNAME", "winuser")  # where getpass finds the user on Windows
    monkeypatch.setattr(process, "ANCHOR_DIR", tmp_path)
    monkeypatch.setattr(process, "_anchors", {})
    me = process.identity(os.getpid())
    assert me is not None and abs(me.start_time - psutil.Process().create_time()) < 1.0
    if Path("/proc/sys/kernel/random/boot_id").exists():  # the anchor is named after the user
        assert [p.name.split("-")[3] for p in tmp_path.iterdir()] == ["winuser"]
    assert process.is_alive(os.getpid(), me.start_time)


def test_the_watch_takes_a_new_or_rewritten_request_but_not_one_left_from_before(tmp_path: Path) -> None:
    from spark_trainer.jobs import portable

    request = tmp_path / "stop-request"
    request.write_text("cancel")
    os.utime(request, (time.time() - 3600, time.time() - 3600))  # left by an earlier worker of the run
    fired = threading.Event()
    done = portable.watch(request, fired.set, every=0.02)
    try:
        assert not fired.wait(0.5)
        control._write_request(tmp_path, StopKind.PAUSE)
        assert fired.wait(10)
    finally:
        done.set()
    fresh, seen = tmp_path / "fresh", threading.Event()
    done = portable.watch(fresh, seen.set, every=0.02)
    try:
        fresh.write_text("x")
        assert seen.wait(10)
    finally:
        done.set()


def test_the_worker_takes_a_request_file_in_start_up_and_in_training_without_a_signal(
        windows_like, tmp_path: Path) -> None:
    """The worker's stop handler, fed by its request file: it raises StopRequested inside an
    interruptible start-up phase, as SIGTERM does, and asks the training loop to stop after."""
    from spark_trainer.jobs.worker_process import install_stop_handler

    before = signal.getsignal(signal.SIGTERM)
    commands = Commands()
    done = install_stop_handler(tmp_path, commands)
    try:
        with pytest.raises(StopRequested) as raised:
            with commands.start_up("loading the model", interruptible=True):
                control._write_request(tmp_path, StopKind.PAUSE)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # a long load, in Python steps
                    time.sleep(0.01)
        assert raised.value.kind == StopKind.PAUSE and raised.value.phase == "loading the model"
    finally:
        done.set()
        signal.signal(signal.SIGTERM, before)
    assert windows_like.sent == []

    commands, folder = Commands(), tmp_path / "training"
    done = install_stop_handler(folder, commands)
    try:
        commands.started()
        control._write_request(folder, StopKind.CANCEL)
        deadline = time.monotonic() + 10
        while commands.stop_requested is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert commands.stop_requested == StopKind.CANCEL
    finally:
        done.set()
        signal.signal(signal.SIGTERM, before)


def test_job_control_imports_and_falls_back_where_the_posix_names_are_missing(tmp_path: Path) -> None:
    """A fresh interpreter with the POSIX-only names gone before the app's modules are imported (the
    standard library and psutil first: on Windows they have their own code for this)."""
    script = f"""
import os, signal, subprocess, sys, tempfile, threading, psutil
for name in ("killpg", "getpgid", "getuid", "WNOHANG", "sysconf", "pread", "pwrite"):
    if hasattr(os, name):
        delattr(os, name)
del signal.SIGKILL
sys.modules["fcntl"] = None
sys.modules["resource"] = None
import spark_trainer.jobs.control, spark_trainer.jobs.reconcile, spark_trainer.jobs.worker
import spark_trainer.jobs.worker_process, spark_trainer.jobs.ranks, spark_trainer.evaluation.jobs
import spark_trainer.evaluation.worker, spark_trainer.playground.servers, spark_trainer.playground.server
import spark_trainer.training.batches
from spark_trainer.jobs import portable, process, run_lock
from spark_trainer.training import diskspace
process.ANCHOR_DIR = __import__("pathlib").Path({str(tmp_path)!r})
assert not portable.posix_signals()
me = process.identity(os.getpid())
assert me is not None and process.is_alive(me.pid, me.start_time)
assert run_lock.hold({str(tmp_path)!r}) == (None, None)
assert diskspace.disk.file_size_limit() is None
print("fell back")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fell back"


def test_a_real_worker_paused_and_cancelled_by_its_request_file_alone_keeps_its_checkpoints_and_resumes(
        store: Store, run_file, windows_like) -> None:
    """One run, two workers: paused (a checkpoint at the step it stopped), resumed from that checkpoint,
    then cancelled (another checkpoint); neither worker got a signal, neither was killed."""
    from spark_trainer.config import load_config
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import metrics
    from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
    from tests.jobs.conftest import wait_until

    path = run_file("by-file", steps=400, ckpt_every=4)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    assert schedule_once(store) == [run.id]
    wait_until(store, run.id, lambda r: r.pid is not None and r.step >= 2, timeout_s=180)
    began = time.monotonic()
    paused = control.pause(store, run.id, grace_s=120)
    print(f"paused in {time.monotonic() - began:.1f} s")
    log = (Path(run.run_dir) / process.LOG_NAME).read_text()
    assert paused.status == RunStatus.PAUSED, log[-3000:]
    assert runs.events(store, run.id)[-1].reason == f"paused by request; checkpoint at step {paused.step}"
    assert "stop request file found: pause requested" in log and "SIGTERM" not in log
    at = checkpoint_step(latest_checkpoint(Path(run.run_dir)))
    assert at == paused.step >= 2  # saved where it stopped

    control.resume(store, run.id)
    assert schedule_once(store) == [run.id]
    wait_until(store, run.id, lambda r: r.status == RunStatus.RUNNING and r.step > at + 1, timeout_s=180)
    began = time.monotonic()
    cancelled = control.cancel(store, run.id, grace_s=120)
    print(f"cancelled in {time.monotonic() - began:.1f} s")
    log = (Path(run.run_dir) / process.LOG_NAME).read_text()
    assert cancelled.status == RunStatus.CANCELLED, log[-3000:]
    assert runs.events(store, run.id)[-1].reason == f"cancelled by request; checkpoint at step {cancelled.step}"
    assert log.count("stop request file found") == 2 and "SIGTERM" not in log
    assert checkpoint_step(latest_checkpoint(Path(run.run_dir))) == cancelled.step > at + 1
    assert f"resume requested from checkpoint step {at}" in [e.reason for e in runs.events(store, run.id)]
    steps = sorted(m.step for m in metrics.read(store, run.id, keys=["loss"]))
    assert steps == list(range(1, cancelled.step + 1))  # resumed where it paused: no gap, no step twice
    assert windows_like.sent == []


def test_windows_a_file_lock_is_the_handles_and_unlock_frees_it_before_the_close(tmp_path: Path, windows_like) -> None:
    """msvcrt.locking (simulated: tests/windows_msvcrt.py) as portable.try_lock uses it: a second handle of
    the same file, in the same process, is refused; `unlock` frees the byte while the first is still open
    (Windows frees a closed file's locks only when it gets to it); the pid text at the start stays readable."""
    path = tmp_path / "worker.lock"
    first, second = (os.open(path, os.O_RDWR | os.O_CREAT) for _ in range(2))
    try:
        assert portable.try_lock(first) is True
        os.lseek(first, 0, os.SEEK_SET)
        os.write(first, b"1234")
        assert portable.try_lock(second) is False
        os.lseek(second, 0, os.SEEK_SET)
        assert os.read(second, 32) == b"1234"
        portable.unlock(first)
        assert portable.try_lock(second) is True
        assert portable.try_lock(first) is False
    finally:
        os.close(first)
        os.close(second)
