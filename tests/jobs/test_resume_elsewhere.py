"""`run resume RUN --gpus G`: a stopped run moves to other devices; a process count that cannot keep the
checkpoint's rows per step, or a malformed request, is refused with one line and exit code 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.errors import DatabaseLocked
from spark_trainer.jobs import control
from spark_trainer.jobs.submit import frozen_config, submit_config
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import write_checkpoint
from tests.jobs.together import at_once, meet_before


def _stopped_run_with_checkpoint(store: Store, run_file) -> tuple[int, Path]:
    path = run_file(gpus="cpu:2", batch_size=2)  # 2 processes x 2 rows = 4 rows per step
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    runs.transition(store, run.id, RunStatus.CANCELLED, "stopped for the test")
    write_checkpoint(Path(run.run_dir), 3, {}, {"world_size": 2, "global_batch": 4})
    return run.id, Path(run.run_dir)


def test_resume_on_fewer_processes_records_the_new_devices(store: Store, run_file) -> None:
    run_id, run_dir = _stopped_run_with_checkpoint(store, run_file)
    run = control.resume(store, run_id, gpus="cpu")  # the command does this, then starts the run
    assert run.status == RunStatus.QUEUED
    assert run.requested_gpus == "cpu" and frozen_config(run_dir).gpus == "cpu"
    assert "from checkpoint step 3 on cpu" in runs.events(store, run_id)[-1].reason


def test_resume_refuses_a_layout_that_changes_the_batch_and_bad_specs(store: Store, run_file, cli) -> None:
    run_id, run_dir = _stopped_run_with_checkpoint(store, run_file)
    odd = cli("run", "resume", str(run_id), "--gpus", "cpu:3")
    assert odd.code == 2 and len(odd.err.strip().splitlines()) == 1
    assert "4 rows per step" in odd.err and "resume on 1, 2 processes" in odd.err
    bad = cli("run", "resume", str(run_id), "--gpus", "three")
    assert bad.code == 2 and "gpus: 'three' is not valid" in bad.err
    run = runs.get(store, run_id)  # nothing changed
    assert run.status == RunStatus.CANCELLED and run.requested_gpus == "cpu:2"
    assert frozen_config(run_dir).gpus == "cpu:2"


def test_a_resume_elsewhere_the_database_refuses_leaves_the_config_on_the_old_devices(
        store: Store, run_file, home: Path) -> None:
    """Another process holds the database's write lock past the wait: the run stays cancelled on cpu:2,
    and its frozen config must say so too (it said cpu, a move that never happened)."""
    run_id, run_dir = _stopped_run_with_checkpoint(store, run_file)
    before = (run_dir / "config.yaml").read_bytes()
    other = sqlite3.connect(store.home.db_path, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        with Store.open(home, busy_timeout_ms=200) as impatient, pytest.raises(DatabaseLocked):
            control.resume(impatient, run_id, gpus="cpu")
    finally:
        other.rollback()
        other.close()
    run = runs.get(store, run_id)
    assert run.status == RunStatus.CANCELLED and run.requested_gpus == "cpu:2"
    assert (run_dir / "config.yaml").read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")) == []


def test_two_resumes_elsewhere_at_once_leave_the_config_on_the_winners_devices(
        store: Store, run_file, home: Path, monkeypatch) -> None:
    """`run resume --gpus cpu` and `--gpus cpu:2` at the same moment: both read the config, both wrote
    theirs; the loser, refused by the database, put back the config it had read, so the run was queued
    on the winner's devices with a config on the old ones. Now the second waits and is refused."""
    from spark_trainer.jobs import relocate

    run_id, run_dir = _stopped_run_with_checkpoint(store, run_file)
    meet_before(monkeypatch, relocate, "save_config")  # both read the config, then write

    def resume_on(gpus: str) -> str:
        with Store.open(home) as own:  # as another process would
            return control.resume(own, run_id, gpus=gpus).requested_gpus

    outcomes = at_once(resume_on, ["cpu", "cpu:1"])
    [won] = [gpus for gpus, outcome in outcomes.items() if isinstance(outcome, str)]
    [lost] = [outcome for outcome in outcomes.values() if isinstance(outcome, Exception)]
    assert runs.get(store, run_id).requested_gpus == won and frozen_config(run_dir).gpus == won
    assert str(lost) == (f"run {run_id} is queued; only a paused, interrupted, failed or cancelled run can be "
                         "resumed"), repr(lost)


def test_resume_on_the_cpu_of_a_flex_attention_run_is_refused_and_the_run_left_where_it_was(
        store: Store, run_file) -> None:
    # A GPU run with `attention: flex` moved by `run resume --gpus cpu` was queued there and failed at its
    # first step: PyTorch has no flex-attention backward pass on the CPU.
    import yaml

    from spark_trainer.errors import BadInput

    path = run_file()
    spec = yaml.safe_load(path.read_text())
    spec["gpus"], spec["recipe_config"]["attention"] = "0", "flex"
    path.write_text(yaml.safe_dump(spec))
    run = submit_config(store, load_config(path), base_dir=path.parent, machine=[0]).run
    runs.transition(store, run.id, RunStatus.CANCELLED, "stopped for the test")
    with pytest.raises(BadInput, match="^recipe_config.attention: flex cannot train on the CPU"):
        control.resume(store, run.id, gpus="cpu")
    assert runs.get(store, run.id).status == RunStatus.CANCELLED
    assert frozen_config(Path(run.run_dir)).gpus == "0"
