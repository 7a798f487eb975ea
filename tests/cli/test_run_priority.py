"""`run priority RUN N`: a queued run's priority (documented nowhere, shown nowhere, fixed at submit) can
be changed, moves the run up the queue, is recorded as an event and shown by `run show`; a run that no
longer waits, or a value out of range, is refused in one line."""

from __future__ import annotations

from spark_trainer.jobs.scheduler import READY, waiting_reasons
from spark_trainer.store import experiments, projects, runs, settings
from spark_trainer.store.entities import RunStatus


def test_a_queued_run_moves_up_the_queue(store, cli) -> None:
    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    first, second = (runs.create(store, "e", requested_gpus="cpu").id for _ in range(2))
    settings.set_value(store, "max_concurrent_runs", 1)
    assert waiting_reasons(store, machine=[])[first] == READY  # ties: in the order they were queued

    moved = cli("run", "priority", second, "5")
    assert (moved.code, moved.out) == (0, f"run {second} priority 5 (was 0)\n")
    reasons = waiting_reasons(store, machine=[])
    assert reasons[second] == READY and reasons[first].startswith(f"waiting for run {second} to finish")
    shown = cli("run", "show", second).out
    assert "priority        5\n" in shown and "priority 0 -> 5" in shown  # the field and the event
    assert cli("--json", "run", "priority", second, "5").json()["priority"] == 5

    too_high = cli("run", "priority", first, "101")
    assert too_high.code == 2 and too_high.err == "error: priority 101: must be from -100 to 100 (higher starts first)\n"
    for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, first, to, "test")
    done = cli("run", "priority", first, "-3")  # a negative number is the value, not an option
    assert done.code == 2 and done.err == (f"error: run {first} is completed; only a queued run's priority can "
                                           "change (it orders the queue)\n")
    assert runs.get(store, first).priority == 0
