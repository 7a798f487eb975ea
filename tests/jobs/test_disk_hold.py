"""A run that failed on a full disk holds the queued runs while the runs folder has less room than it
needed, instead of the scheduler starting each in turn to fail the same way (a night's queue ended all
failed); they start once space is freed. The free space is faked here (the real tmpfs walk is in the
report that found this)."""

from __future__ import annotations

import errno
import itertools
from pathlib import Path

import pytest

from spark_trainer.errors import DiskFull, StoreDiskFull
from spark_trainer.jobs import disk_hold, scheduler
from spark_trainer.jobs.disk_hold import DISK_FULL_REASON, needed_bytes
from spark_trainer.jobs.scheduler import hold_of, schedule_once, serve, waiting_reasons
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training import diskspace

MiB = 2**20
KEPT = "the last complete checkpoint is still step-00000005"


def _check_free_line(monkeypatch: pytest.MonkeyPatch, folder: Path, free: int, needed: int) -> str:
    """The line a checkpoint's free-space check fails with, in its own words."""
    with monkeypatch.context() as patched, pytest.raises(DiskFull) as refused:
        patched.setattr(diskspace, "free_bytes", lambda _path: free)
        diskspace.check_free(folder, needed, keeps=KEPT)
    return str(refused.value)


def _fail(store: Store, run_id: int, error: str, reason: str = DISK_FULL_REASON) -> None:
    for status in (RunStatus.STARTING, RunStatus.RUNNING):
        runs.transition(store, run_id, status, "test: a worker")
    runs.transition(store, run_id, RunStatus.FAILED, reason, error=error)


@pytest.fixture
def free_space(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The runs folder's free space as the hold reads it: set `free_space["bytes"]`."""
    reading = {"bytes": 100 * MiB}
    monkeypatch.setattr(disk_hold, "free_bytes", lambda _path: reading["bytes"])
    return reading


@pytest.fixture
def started(spawned: list[int]) -> list[int]:
    """The runs a scheduler starts (no worker spawned: `spawned`)."""
    return spawned


def test_a_disk_full_line_says_what_it_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    line = _check_free_line(monkeypatch, tmp_path / "runs" / "4" / "checkpoints", int(15.4 * MiB), int(1.9 * MiB))
    assert line.startswith("disk full at ") and "16.0 MiB kept free" in line, line
    assert needed_bytes(line) == int(1.9 * MiB) + 16 * MiB  # the need plus the margin, as recorded
    nothing = _check_free_line(monkeypatch, tmp_path, 3 * MiB, 0)
    assert needed_bytes(nothing) == 16 * MiB  # "less than the 16.0 MiB kept free"

    monkeypatch.setattr(diskspace, "free_bytes", lambda _path: 2 * MiB)
    full = OSError(errno.ENOSPC, "No space left on device")
    written = str(diskspace.write_failure(full, tmp_path / "x" / "model.safetensors", int(2.5 * MiB), KEPT))
    assert needed_bytes(written) == int(2.5 * MiB) + diskspace.MARGIN_BYTES  # the margin, which it does not say
    database = str(StoreDiskFull(f"disk full at {tmp_path}: 0.0 MiB free; the database sparktrainer.db could not "
                                 "be written (nothing was changed)"))
    assert needed_bytes(database) == diskspace.MARGIN_BYTES

    # No lack of room: an I/O error and a file-size limit hold nothing.
    failing = OSError(errno.EIO, "Input/output error")
    assert needed_bytes(str(diskspace.write_failure(failing, tmp_path / "model.safetensors", 0, KEPT))) is None
    assert needed_bytes(f"could not write {tmp_path}/a: the file size limit (100 bytes, `ulimit -f`) was reached") is None
    assert needed_bytes(None) is None


def test_queued_runs_wait_for_the_room_a_disk_full_run_needed(store: Store, experiment, monkeypatch, free_space,
                                                              started, cli) -> None:
    settings.set_value(store, "max_concurrent_runs", 4)
    failed = runs.create(store, experiment.id, requested_gpus="cpu")
    line = _check_free_line(monkeypatch, Path(failed.run_dir) / "checkpoints", int(15.4 * MiB), int(1.9 * MiB))
    _fail(store, failed.id, line)
    queued = [runs.create(store, experiment.id, requested_gpus="cpu").id for _ in range(2)]
    runs_dir = store.home.runs_dir

    free_space["bytes"] = int(15.4 * MiB)  # nothing was freed
    assert schedule_once(store, machine=[]) == []
    assert [runs.get(store, i).status for i in queued] == [RunStatus.QUEUED] * 2
    why = f"waiting for disk space: 15.4 MiB free at {runs_dir}, run {failed.id} needed about 17.9 MiB"
    assert waiting_reasons(store, machine=[]) == dict.fromkeys(queued, why)
    assert hold_of(store) == ("room", f"runs {queued[0]}, {queued[1]} stay queued, {why}; they start once there is room")
    shown = cli("run", "show", queued[0])
    assert shown.code == 0 and f"queued: {why}" in shown.out, shown.out

    free_space["bytes"] = 18 * MiB  # room freed: both start
    assert schedule_once(store, machine=[]) == queued
    assert started == queued
    assert hold_of(store) is None

    # Once a run has started after it, the failure holds nothing more (the disk may fill for other reasons).
    later = runs.create(store, experiment.id, requested_gpus="cpu")
    free_space["bytes"] = 1 * MiB
    assert waiting_reasons(store, machine=[]) == {later.id: scheduler.READY}
    # A run that fails on it again holds anew, with its own need.
    again = _check_free_line(monkeypatch, Path(runs_dir) / str(queued[0]), 1 * MiB, 4 * MiB)
    runs.transition(store, queued[0], RunStatus.RUNNING, "test: its worker")
    runs.transition(store, queued[0], RunStatus.FAILED, DISK_FULL_REASON, error=again)
    assert waiting_reasons(store, machine=[]) == {
        later.id: f"waiting for disk space: 1.0 MiB free at {runs_dir}, run {queued[0]} needed about 20.0 MiB"}


def test_only_a_failed_run_that_lacked_room_holds(store: Store, experiment, tmp_path: Path, free_space, started) -> None:
    free_space["bytes"] = 0
    io_error = runs.create(store, experiment.id, requested_gpus="cpu")
    _fail(store, io_error.id, f"I/O error writing {tmp_path}/model.safetensors: Input/output error (5.0 MiB free); "
                              f"{KEPT}. Once the disk can be written again, resume the run")
    waiting = runs.create(store, experiment.id, requested_gpus="cpu")
    assert waiting_reasons(store, machine=[]) == {waiting.id: scheduler.READY}

    full = runs.create(store, experiment.id, requested_gpus="cpu")
    _fail(store, full.id, f"disk full at {tmp_path}: 0.0 MiB free, the checkpoint needs about 1.0 MiB, plus 16.0 MiB "
                          f"kept free for logs and the database; {KEPT}. Free some space, then resume the run")
    assert waiting_reasons(store, machine=[])[waiting.id].startswith("waiting for disk space: ")
    runs.delete(store, full.id)  # its folder's room is freed with it
    assert waiting_reasons(store, machine=[]) == {waiting.id: scheduler.READY}


def test_queue_serve_says_once_that_runs_wait_for_room(store: Store, experiment, monkeypatch, free_space,
                                                       started, tmp_path: Path) -> None:
    failed = runs.create(store, experiment.id, requested_gpus="cpu")
    _fail(store, failed.id, f"disk full at {tmp_path}: 1.0 MiB free, the checkpoint needs about 4.0 MiB, plus 16.0 "
                            f"MiB kept free for logs and the database; {KEPT}. Free some space, then resume the run")
    queued = runs.create(store, experiment.id, requested_gpus="cpu")
    readings = itertools.chain([1 * MiB] * 3, itertools.repeat(20 * MiB))  # the free space, tick by tick

    def tick(_seconds: float) -> None:
        free_space["bytes"] = next(readings)
        if started:  # its worker ends, so that serve --until-idle ends
            runs.transition(store, queued.id, RunStatus.COMPLETED, "test: done")

    free_space["bytes"] = 1 * MiB
    monkeypatch.setattr(scheduler.time, "sleep", tick)
    said: list[str] = []
    serve(store, interval_s=0, until_idle=True, on_waiting=said.append)
    assert said == [f"run {queued.id} stays queued, waiting for disk space: 1.0 MiB free at {store.home.runs_dir}, "
                    f"run {failed.id} needed about 20.0 MiB; it starts once there is room"]
    assert started == [queued.id]
