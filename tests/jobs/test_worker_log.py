"""The worker's log on a full disk (a real tmpfs): a print drops the line instead of raising, the
first failure is offered once as a run event, and the log says what was lost once it has room."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from spark_trainer.jobs.worker_log import LogHealth, LogStream
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture

REPO = Path(__file__).resolve().parents[2]


def test_a_full_log_drops_lines_then_says_how_many(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    folder = tmpfs(tmp_path / "logs", 64 * 1024)
    log = folder / "worker.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        health = LogHealth(folder)
        stream = LogStream(fd, health, "<stdout>")
        first = "b" * 4095  # with its newline, the log's first page is full: no room hides in it
        print(first, file=stream)
        fill(folder)
        for i in range(3):
            print(f"lost {i}", file=stream)  # raised OSError ENOSPC mid-step before
        assert health.total_dropped == 3
        event = health.pending_report()
        assert event is not None and f"disk full at {folder}: 0.0 MiB free" in event and "training continues" in event
        health.reported()
        assert health.pending_report() is None  # recorded once
        free(folder)
        print("after", file=stream)
    finally:
        os.close(fd)
    assert log.read_text() == (f"{first}\n\n[3 log lines could not be written: disk full at {folder}: 0.0 MiB free]\n"
                               "after\n")


def test_a_worker_printing_to_a_full_log_exits_cleanly(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    """A real process whose stdout/stderr is a log on a full disk: it keeps going and exits 0
    (without the streams, its first print raised and Python's exit flush failed too)."""
    folder = tmpfs(tmp_path / "logs", 64 * 1024)
    script = ("from spark_trainer.jobs import worker_log\n"
              "health, _ = worker_log.install()\n"
              "for i in range(100):\n"
              "    print('step', i, 'x' * 200)\n"
              "import sys; sys.stderr.write('warning\\n')\n"
              "raise SystemExit(0 if health.total_dropped == 101 else 3)\n")
    fill(folder)
    with open(folder / "worker.log", "ab") as out:
        done = subprocess.run([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, check=False, timeout=60)
    assert done.returncode == 0
    assert (folder / "worker.log").stat().st_size == 0



def test_a_sigterm_that_prints_while_the_worker_prints_does_not_hang_it(tmp_path: Path) -> None:
    """The worker's SIGTERM handler writes a line to the log; a SIGTERM landing inside another
    write deadlocked the worker on the log's lock (and every later SIGTERM with it)."""
    from tests.training.test_reporting import run_script

    log = tmp_path / "worker.log"
    done = run_script(f"""
        from pathlib import Path
        from spark_trainer.jobs.worker_log import LogHealth, LogStream

        fd = os.open({str(log)!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        stream = LogStream(fd, LogHealth(Path(".")), "<stdout>")
        signal.signal(signal.SIGTERM, lambda *_: stream.write("SIGTERM received: pause requested\\n"))
        tracer, sent = signal_at(LogStream.write.__code__, "failure = self._write_all(data)")
        sys.settrace(tracer)
        stream.write("step 7 loss 2.5\\n")
        sys.settrace(None)
        print(sent)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[1]"]
    assert sorted(log.read_text().splitlines()) == ["SIGTERM received: pause requested", "step 7 loss 2.5"]


def test_a_worker_log_deleted_by_hand_comes_back_and_logs_follow_shows_it(store, run_file, cli) -> None:
    import time

    from spark_trainer.jobs import control
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from tests.conftest import spark_trainer_exe, subprocess_env
    from tests.jobs.conftest import wait_until

    started = cli("--json", "train", str(run_file("logless", steps=2000, ckpt_every=1000)))
    assert started.code == 0, started.err
    run_id = started.json()["id"]
    run = wait_until(store, run_id, lambda r: r.status == RunStatus.RUNNING and r.step >= 1, timeout_s=180)
    follow = subprocess.Popen([spark_trainer_exe(), "--home", str(store.home.root), "run", "logs", str(run_id),
                               "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=subprocess_env())
    try:
        assert "running on CPU" in follow.stdout.readline() + follow.stdout.readline()  # it is following
        log = Path(run.run_dir) / "worker.log"
        log.unlink()
        deadline = time.monotonic() + 30
        while not (log.exists() and "was deleted" in log.read_text()):
            assert time.monotonic() < deadline, "worker.log did not come back"
            time.sleep(0.1)
        assert control.cancel(store, run_id, grace_s=60).status == RunStatus.CANCELLED
        out, err = follow.communicate(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
        if runs.get(store, run_id).status.is_active:  # a failed assertion must not leave the worker training
            control.cancel(store, run_id, grace_s=10)
    text = log.read_text()
    assert "[worker.log was deleted while the run was training; the lines written since then are lost]" in text
    assert "SIGTERM received: cancel requested" in text  # what the worker said afterwards is in the new log
    assert "SIGTERM received: cancel requested" in out, err  # and `run logs --follow` showed it


@pytest.mark.slow
def test_a_deleted_worker_log_comes_back_for_every_rank_of_a_distributed_run(store, run_file) -> None:
    """Rank processes inherit the launcher's worker.log descriptor; only the launcher reopened a deleted
    log, so every later line of the ranks (the ones that train) went into the deleted file."""
    import time

    from spark_trainer.config import load_config
    from spark_trainer.jobs import control
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from tests.jobs.conftest import wait_until

    path = run_file("ddp-logless", steps=3000, ckpt_every=1000, gpus="cpu:2", batch_size=2)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    schedule_once(store)
    try:
        run = wait_until(store, run.id, lambda r: r.status == RunStatus.RUNNING and r.step >= 1, timeout_s=300)
        log = Path(run.run_dir) / "worker.log"
        log.unlink()
        group = [run.pid, *(p.pid for p in psutil.Process(run.pid).children(recursive=True))]
        assert len(group) == 3  # the launcher and its two ranks
        deadline = time.monotonic() + 30
        while any(_writes_to_deleted_file(pid) for pid in group):
            assert time.monotonic() < deadline, {pid: os.readlink(f"/proc/{pid}/fd/1") for pid in group}
            time.sleep(0.2)
        assert control.cancel(store, run.id, grace_s=60).status == RunStatus.CANCELLED
    finally:
        if runs.get(store, run.id).status.is_active:  # a failed assertion must not leave the ranks training
            control.cancel(store, run.id, grace_s=10)
    text = log.read_text()
    assert text.count("was deleted while the run was training") == 1, text  # said once, not by every process
    # The launcher and both ranks say so on SIGTERM: all three lines are in the new log.
    assert text.count("SIGTERM received: cancel requested") == 3, text
    assert "rank exit codes: [0, 0]" in text, text


def _writes_to_deleted_file(pid: int) -> bool:
    return any(os.readlink(f"/proc/{pid}/fd/{fd}").endswith(" (deleted)") for fd in (1, 2))
