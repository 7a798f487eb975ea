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
    # Queued, it says what it asks for as a request ("asked ..."), not as devices it got.
    assert _devices_through_its_life(store, exp.id, "cpu", []) == ["asked CPU", "CPU", "CPU", "CPU"]
    assert _devices_through_its_life(store, exp.id, "cpu:2", []) == ["asked CPU", "CPU", "CPU", "CPU"]
    assert _devices_through_its_life(store, exp.id, "0,1", [0, 1]) == ["asked 0,1", "0,1", "0,1", "0,1"]
    assert _devices_through_its_life(store, exp.id, "auto", [1]) == ["asked auto", "1", "1", "1"]
    assert _devices_through_its_life(store, exp.id, "auto", []) == ["asked auto", "CPU", "CPU", "CPU"]  # no GPU here


def _claim(store: Store, run_id: int, gpus: list[int]) -> None:
    """A scheduler takes the run from the queue onto `gpus`, as `queue serve` and the app do."""
    assert [r.id for r in runs.claim(store, lambda queued, active: [(run_id, gpus, "test: placed")])] == [run_id]


def test_a_run_that_never_left_the_queue_ran_nowhere_and_says_what_it_asked_for(store: Store) -> None:
    """Seen in the Runs list: a run cancelled while queued said "local" under Ran on and "auto" under GPUs,
    as if it had trained here on some device "auto"."""
    from spark_trainer.jobs.scheduler import PUT_BACK

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})

    def said(run_id: int) -> tuple[bool, str, str]:
        run = runs.get(store, run_id)
        return run.never_started, run.devices, run.ran_on_text

    queued = runs.create(store, exp.id, requested_gpus="auto")
    assert said(queued.id) == (True, "asked auto", "-")
    runs.transition(store, queued.id, RunStatus.CANCELLED, "cancelled while queued")
    assert said(queued.id) == (True, "asked auto", "-")
    failed = runs.create(store, exp.id, requested_gpus="count:2")
    runs.transition(store, failed.id, RunStatus.FAILED, "could not write config.yaml")
    assert said(failed.id) == (True, "asked count:2", "-")
    cpu = runs.create(store, exp.id, requested_gpus="cpu:2")
    runs.transition(store, cpu.id, RunStatus.CANCELLED, "cancelled while queued")
    assert said(cpu.id) == (True, "asked CPU", "-")
    assert runs.get(store, cpu.id).ran_on == "local"  # the stored field (--json) is kept as it was
    from dataclasses import replace

    job = replace(runs.get(store, queued.id), ran_on="torchrun 2x1")  # a cluster job is not in this queue
    assert (job.never_started, job.devices, job.ran_on_text) == (False, "GPUs", "torchrun 2x1")

    put_back = runs.create(store, exp.id, requested_gpus="auto")  # claimed, then put back before any worker
    _claim(store, put_back.id, [1])
    assert said(put_back.id) == (False, "1", "local")
    runs.unclaim(store, [put_back.id], PUT_BACK)
    runs.transition(store, put_back.id, RunStatus.CANCELLED, "cancelled while queued")
    assert said(put_back.id) == (True, "asked auto", "-")

    # Taken from the queue, it ran (or was started) here: "local", and the devices it got.
    spawn_failed = runs.create(store, exp.id, requested_gpus="auto")  # placed on the CPU, no worker spawned
    _claim(store, spawn_failed.id, [])
    runs.transition(store, spawn_failed.id, RunStatus.FAILED, "could not start the worker: boom")
    assert said(spawn_failed.id) == (False, "CPU", "local")  # it said "auto"
    ran = runs.create(store, exp.id, requested_gpus="auto")
    _claim(store, ran.id, [0])
    runs.transition(store, ran.id, RunStatus.RUNNING, "worker started", pid=4242)
    runs.transition(store, ran.id, RunStatus.INTERRUPTED, "worker gone")
    assert said(ran.id) == (False, "0", "local")
    # Resumed onto other GPUs (`run resume --gpus 1`), it waits in the queue: it said "0", where it had
    # trained, as if it were placed there again. It says what it asks for until a scheduler places it.
    runs.transition(store, ran.id, RunStatus.QUEUED, "resume requested", requested_gpus="1")
    assert said(ran.id) == (False, "asked 1", "local")
    runs.transition(store, ran.id, RunStatus.CANCELLED, "cancelled while queued")  # cancelled there
    assert said(ran.id) == (False, "0", "local")


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
