"""`run list` and `run show` on where a run ran: nowhere ("-") for a run that never left the queue,
whose GPUs say what it asked for; `--json` keeps the stored fields."""

from __future__ import annotations

from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from tests.cli.test_runs import _finished_run_with_metrics


def test_list_and_show_say_a_run_cancelled_while_queued_ran_nowhere(store, cli) -> None:
    """`run list` and `run show` said "local" under RAN ON, and "auto" under GPUS, for a run cancelled
    while queued, as if it had trained here on a device "auto". A run interrupted after it started keeps
    its "local"; `--json` keeps every key and the stored `ran_on` (its `started_at` is null)."""
    run_id = _finished_run_with_metrics(store)
    exp_id = runs.get(store, run_id).experiment_id
    never = runs.create(store, exp_id, requested_gpus="auto")
    runs.transition(store, never.id, RunStatus.CANCELLED, "cancelled while queued")
    ran = runs.create(store, exp_id, requested_gpus="auto")
    assert [r.id for r in runs.claim(store, lambda queued, active: [(ran.id, [], "test: placed")])] == [ran.id]
    runs.transition(store, ran.id, RunStatus.RUNNING, "worker started", pid=4242)
    runs.transition(store, ran.id, RunStatus.INTERRUPTED, "worker gone")
    header, *rows = cli("run", "list").out.splitlines()
    gpus, ran_on, created = (header.index(title) for title in ("GPUS", "RAN ON", "CREATED"))  # aligned columns
    where = {row.split()[0]: (row[gpus:ran_on].strip(), row[ran_on:created].strip()) for row in rows}
    assert where == {str(run_id): ("CPU", "local"), str(never.id): ("asked auto", "-"), str(ran.id): ("CPU", "local")}

    def show(run) -> list[str]:
        return [" ".join(line.split()) for line in cli("run", "show", run.id).out.splitlines()
                if line.startswith(("gpus", "ran on"))]

    assert show(never) == ["gpus requested auto", "gpus asked auto", "ran on -"]
    assert show(ran) == ["gpus requested auto", "gpus CPU", "ran on local"]
    listed = {r["id"]: r for r in cli("--json", "run", "list").json()}
    assert (listed[never.id]["ran_on"], listed[never.id]["started_at"], listed[never.id]["requested_gpus"]) == (
        "local", None, "auto")
    assert listed[never.id].keys() == listed[ran.id].keys()
    assert cli("--json", "run", "show", never.id).json()["run"]["ran_on"] == "local"
