"""Entities' derived words: `Run.devices`, where a run trains, as every list and page says it."""

from __future__ import annotations

from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def _devices_through_its_life(store: Store, exp_id: int, requested: str, gpus: list[int]) -> list[str]:
    """`devices` queued, starting (placed on `gpus`), running and completed."""
    run = runs.create(store, exp_id, requested_gpus=requested)
    said = [run.devices]
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        said.append(runs.transition(store, run.id, status, "test", gpus=gpus).devices)
    return said


def test_a_run_says_where_it_trains_in_one_word_before_and_after_it_starts(store: Store) -> None:
    # Seen in a GUI walk: a queued CPU run said "cpu" in the Runs list and "CPU" once started.
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    assert _devices_through_its_life(store, exp.id, "cpu", []) == ["CPU"] * 4
    assert _devices_through_its_life(store, exp.id, "cpu:2", []) == ["CPU"] * 4
    assert _devices_through_its_life(store, exp.id, "0,1", [0, 1]) == ["0,1"] * 4
    assert _devices_through_its_life(store, exp.id, "auto", [1]) == ["auto", "1", "1", "1"]
    assert _devices_through_its_life(store, exp.id, "auto", []) == ["auto", "CPU", "CPU", "CPU"]  # no GPU here
    never = runs.create(store, exp.id, requested_gpus="auto")
    assert runs.transition(store, never.id, RunStatus.CANCELLED, "test").devices == "auto"  # never placed


def test_a_stored_time_is_shown_on_this_computers_clock(new_york) -> None:
    from datetime import datetime, timezone

    from spark_trainer.store.entities import local_time

    assert local_time(datetime(2026, 12, 3, 16, 5)) == datetime(2026, 12, 3, 11, 5)  # stored naive UTC
    assert local_time(datetime(2026, 7, 1, 3, 0)) == datetime(2026, 6, 30, 23, 0)  # summer time: UTC-4
    assert local_time(datetime(2026, 12, 3, 16, 5, tzinfo=timezone.utc)) == datetime(2026, 12, 3, 11, 5)


def test_the_error_line_of_a_killed_run_does_not_end_on_the_logs_introduction(store: Store) -> None:
    # `queue serve`, `run list`'s NOTE and the app's tooltip said "...; last lines of worker.log:" and
    # stopped there: the lines it introduces are not in a one-line view.
    from dataclasses import replace

    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = replace(runs.create(store, "e"), status=RunStatus.INTERRUPTED,
                  error="the worker process (pid 7) ended without recording how the run ended (killed? out of "
                        "memory? see `dmesg`); last lines of worker.log:\nstep 3\nKilled")
    assert run.error_line == ("the worker process (pid 7) ended without recording how the run ended (killed? out "
                              "of memory? see `dmesg`)")
    assert replace(run, error="boom: a thing:\nmore").error_line == "boom: a thing:"  # other colons stay


def test_runs_are_named_with_their_verb_agreeing() -> None:
    from spark_trainer.store.entities import runs_named

    assert runs_named([4]) == "run 4" and runs_named([4], "stay") == "run 4 stays"
    assert runs_named([4, 7, 9]) == "runs 4, 7, 9" and runs_named([7, 4], "wait") == "runs 7, 4 wait"
