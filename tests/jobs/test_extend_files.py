"""An extend killed after it rewrote a run's files but before the database took the change: reconcile
puts the files back, so the run's files agree with its record (completed, at the step it ended)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import yaml

from spark_trainer.jobs import extend as extend_module
from spark_trainer.jobs import reconcile as reconcile_module
from spark_trainer.jobs import run_lock
from spark_trainer.jobs.extend import PLAN_FILE, extend
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.cli.test_run_extend import _completed_run
from tests.jobs.test_extend import _files


class Killed(BaseException):
    """SIGKILL: nothing after it runs, nothing is put back."""


def _killed_extend(store: Store, run_id: int, steps: int, monkeypatch) -> None:
    def killed(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(extend_module, "restoring", lambda paths: contextlib.nullcontext())
        patch.setattr(extend_module.runs, "transition", killed)
        with pytest.raises(Killed):
            extend(store, run_id, steps)


def _reconcile_afresh(store: Store, monkeypatch) -> None:
    """A reconcile that sweeps, as a process's first pass over the home does (start-up, `queue`)."""
    monkeypatch.setattr(reconcile_module, "_swept", {})
    reconcile(store)


def _segments(run_dir: Path) -> list[tuple[int, int]]:
    return [(s["start"], s["end"]) for s in json.loads((run_dir / PLAN_FILE).read_text())["segments"]]


def test_reconcile_puts_back_the_files_of_an_extend_killed_before_its_database_write(store: Store,
                                                                                    monkeypatch) -> None:
    """They stayed (config.yaml saying max_steps 12, extend.json, the backup) until the next extend."""
    run = _completed_run(store, gpus="count:64", steps=8)
    run_dir = Path(run.run_dir)
    before = _files(run_dir)
    _killed_extend(store, run.id, 4, monkeypatch)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["max_steps"] == 12  # as the kill left it

    _reconcile_afresh(store, monkeypatch)
    assert _files(run_dir) == before  # no extended config, no extend.json, no backup
    assert runs.get(store, run.id).status == RunStatus.COMPLETED
    assert extend(store, run.id, 4).total_steps == 12  # and extending it then works as ever
    assert _segments(run_dir) == [(0, 8), (8, 12)]


def test_a_killed_second_extend_leaves_the_first_ones_segment_and_backup(store: Store, monkeypatch) -> None:
    run = _completed_run(store, gpus="count:64", steps=8)
    run_dir = Path(run.run_dir)
    extend(store, run.id, 4)  # taken: 8 -> 12, then trained to the end
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, status, "test", step=12, total_steps=12, pid=None)
    before = _files(run_dir)
    assert "config.before-extend-8.yaml" in before
    _killed_extend(store, run.id, 5, monkeypatch)
    assert _segments(run_dir) == [(0, 8), (8, 12), (12, 17)]

    _reconcile_afresh(store, monkeypatch)
    assert _files(run_dir) == before
    assert _segments(run_dir) == [(0, 8), (8, 12)]


def test_an_extend_at_work_is_left_alone(store: Store, monkeypatch) -> None:
    """Files rewritten, the database not yet: while the extend holds the folder's lock it is not dead."""
    run = _completed_run(store, gpus="count:64", steps=8)
    run_dir = Path(run.run_dir)
    before = _files(run_dir)
    _killed_extend(store, run.id, 4, monkeypatch)
    extended = _files(run_dir)

    fd, _holder = run_lock.hold(run_dir, wait=0)  # as the extend holds it from read to database write
    assert fd is not None
    try:
        _reconcile_afresh(store, monkeypatch)
        assert _files(run_dir) == extended
    finally:
        run_lock.release(fd)
    _reconcile_afresh(store, monkeypatch)
    assert _files(run_dir) == before
