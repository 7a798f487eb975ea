"""The GUI's scheduler tick on a database whose disk is full (a real tmpfs): the queued run stays
queued and the tick reports the same waiting line `queue serve` prints (issue 14, item 2)."""

from __future__ import annotations

from pathlib import Path

from app.model.reads import PollRequest, poll_once
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture


def test_a_tick_on_a_full_disk_keeps_the_run_queued_and_says_it_waits(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 4 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
        exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                                 config={})
        run = runs.create(store, exp.id, requested_gpus="cpu")
        fill(home)
        result = poll_once(store, PollRequest(runs_since=None, schedule=True, catalog=False))
        assert result.started == []
        assert result.errors == [f"Scheduler: disk full at {home}: 0.0 MiB free; the database sparktrainer.db could "
                                 f"not be written; run {run.id} stays queued and starts once there is room"]
        assert [r.status for r in result.changed] == [RunStatus.QUEUED]
