"""`train --wait` (and `start`/`resume --wait`) on a data home whose disk fills before the run can
start (a real tmpfs): the wait goes on, says so once, and starts the run once there is room, as
`queue serve` does, rather than stopping with the disk-full error."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from spark_trainer.cli.waiting import wait_for_run
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.test_scheduler_disk_full import _queue_a_run
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture


def test_waiting_for_a_run_outlasts_a_full_database_disk(tmpfs, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    home = tmpfs(tmp_path / "home", 4 * 2**20)
    said: list[str] = []
    with Store.open(home) as store, ThreadPoolExecutor(1) as pool:
        run_id = _queue_a_run(store)
        fill(home)
        waited = pool.submit(wait_for_run, store, run_id, poll_s=0.05, on_waiting=said.append)
        deadline = time.monotonic() + 60  # polls every 0.05 s; a loaded machine made 0.5 s too short for one
        while not said and not waited.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a few more polls on the full disk
        assert not waited.done(), waited.exception()  # still waiting, not stopped by the full disk
        assert runs.get(store, run_id).status == RunStatus.QUEUED
        free(home)
        run = waited.result(timeout=120)
    # The run has no config.yaml, so its worker fails at once: what matters is that it was started.
    assert run.status not in {RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING}
    assert said == [f"disk full at {home}: 0.0 MiB free; the database sparktrainer.db could not be written; "
                    f"run {run_id} stays queued and starts once there is room"]
