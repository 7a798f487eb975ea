"""`extend` when the database cannot take the change, or another extend runs at the same moment: the
run's files stay as they were, or are the one extend's that took."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from spark_trainer.errors import BadInput, DatabaseLocked
from spark_trainer.jobs.extend import PLAN_FILE, extend
from spark_trainer.jobs.run_lock import LOCK_NAME
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.cli.test_run_extend import _completed_run
from tests.jobs.together import at_once, meet_before


def _files(run_dir: Path) -> dict[str, bytes]:
    """The run's files, less the folder's lock (extend holds it; every trained run's folder has one)."""
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file() and p.name != LOCK_NAME}


def test_an_extend_the_database_refuses_leaves_the_config_and_plan_as_they_were(store: Store, home: Path) -> None:
    run = _completed_run(store, gpus="count:64", steps=8)
    run_dir = Path(run.run_dir)
    before = _files(run_dir)
    other = sqlite3.connect(store.home.db_path, timeout=0)  # another process holding the write lock
    other.execute("BEGIN IMMEDIATE")
    try:
        with Store.open(home, busy_timeout_ms=200) as impatient, pytest.raises(DatabaseLocked):
            extend(impatient, run.id, 4)
    finally:
        other.rollback()
        other.close()
    assert runs.get(store, run.id).status == RunStatus.COMPLETED
    assert _files(run_dir) == before  # no max_steps 12 in config.yaml, no extend.json, no backup

    # Once the database can be written, the same extend does what it says, from the original config.
    done = extend(store, run.id, 4)
    assert done.status == RunStatus.QUEUED and done.total_steps == 12
    assert (run_dir / "config.before-extend-8.yaml").read_bytes() == before["config.yaml"]
    segments = [(s["start"], s["end"]) for s in json.loads((run_dir / PLAN_FILE).read_text())["segments"]]
    assert segments == [(0, 8), (8, 12)]


def test_two_extends_at_once_one_wins_whole_the_other_is_refused(store: Store, home: Path, monkeypatch) -> None:
    """Two `run extend`s of one run at the same moment (two processes: a Store each). Both read the run
    completed and its files, then both wrote; the loser's transition was refused and it put back the
    files it had read, the original ones: the run was queued for 12 steps with a config of 8. Now the
    second waits for the first and is refused in one line; the run's files are the winner's."""
    from spark_trainer.jobs import extend as extend_module

    run = _completed_run(store, gpus="count:64", steps=8)
    run_dir = Path(run.run_dir)
    original = (run_dir / "config.yaml").read_bytes()
    meet_before(monkeypatch, extend_module, "replace_bytes")  # both read the run and its files, then write

    def extend_by(steps: int) -> int:
        with Store.open(home) as own:  # as another process would
            return extend(own, run.id, steps).total_steps

    outcomes = at_once(extend_by, [4, 6])
    [won] = [steps for steps, outcome in outcomes.items() if isinstance(outcome, int)]
    [lost] = [outcome for outcome in outcomes.values() if isinstance(outcome, Exception)]
    done = runs.get(store, run.id)
    assert done.status == RunStatus.QUEUED and done.total_steps == 8 + won
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["max_steps"] == 8 + won
    assert (run_dir / "config.before-extend-8.yaml").read_bytes() == original
    segments = [(s["start"], s["end"]) for s in json.loads((run_dir / PLAN_FILE).read_text())["segments"]]
    assert segments == [(0, 8), (8, 8 + won)]
    assert isinstance(lost, BadInput), repr(lost)
    # It said "(resume a paused or interrupted one instead)": no advice for a queued run.
    assert str(lost) == f"run {run.id} is queued; only a completed run can be extended (let it finish first)"


def test_an_extend_killed_before_the_database_write_is_redone_from_the_original(store: Store, monkeypatch) -> None:
    """`run extend 8 --steps 4` killed (-9) after it rewrote the run's files but before the database took
    the change: the run is completed 8/8 with config.yaml saying 12 and a segment 8 -> 12. The retry saved
    that extended config as config.before-extend-8.yaml (the original was lost), appended a second 8 -> x
    segment, and the LR followed the dead one's (decaying to 0 at 12, then jumping back up). Now it is
    redone from the original config and plan; meanwhile the run's config reads as it completed."""
    from spark_trainer.jobs import extend as extend_module
    from spark_trainer.leaderboard import run_config
    from spark_trainer.training.lr_plan import lr_multiplier, read_plan

    run = _completed_run(store, gpus="count:64", steps=8)
    run_dir = Path(run.run_dir)
    original = (run_dir / "config.yaml").read_bytes()

    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed  # SIGKILL: nothing after this runs, and nothing is put back

    with monkeypatch.context() as patch:
        patch.setattr(extend_module, "restoring", lambda paths: contextlib.nullcontext())
        patch.setattr(extend_module.runs, "transition", killed)
        with pytest.raises(Killed):
            extend(store, run.id, 4)
    half = runs.get(store, run.id)
    assert half.status == RunStatus.COMPLETED and half.total_steps == 8
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["max_steps"] == 12  # as the kill left it
    assert run_config(store, half)["train"]["max_steps"] == 8  # what `run config` and Clone show

    done = extend(store, run.id, 10)  # the retry, with another step count
    assert done.status == RunStatus.QUEUED and done.total_steps == 18
    assert (run_dir / "config.before-extend-8.yaml").read_bytes() == original
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["max_steps"] == 18
    plan = read_plan(run_dir)
    assert [(s.start, s.end) for s in plan.segments] == [(0, 8), (8, 18)]
    fresh = extend_module.plan_extension(yaml.safe_load(original)["train"], 8, 10)
    assert [lr_multiplier(step, plan) for step in range(19)] == [lr_multiplier(step, fresh) for step in range(19)]
    assert run_config(store, runs.get(store, run.id))["train"]["max_steps"] == 18
