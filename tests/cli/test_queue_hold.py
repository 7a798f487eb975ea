"""`queue hold`, `queue show`, `queue release`: a night's queue is built in the order a person chooses
before anything starts (without the hold the first `train` started at once, whatever its priority)."""

from __future__ import annotations

from spark_trainer.store import experiments, projects, runs, settings
from spark_trainer.store.entities import RunStatus


def test_a_held_queue_is_shown_and_released_in_priority_order(store, cli, spawned) -> None:
    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    assert cli("queue", "show").out == "queue   not held\nactive  none\nqueued  none\n"

    held = cli("queue", "hold")
    assert (held.code, held.out) == (0, "queue held: no queued run starts until `spark-trainer queue release`; "
                                        "running runs go on\n")
    first = runs.create(store, "e", requested_gpus="cpu").id
    second = runs.create(store, "e", requested_gpus="cpu", priority=5).id
    again = cli("queue", "hold")
    assert again.code == 0 and again.out.startswith("the queue was held already (since ")
    assert f"runs {second}, {first} stay queued; running runs go on" in again.out

    shown = cli("queue", "show")
    assert shown.code == 0 and "queue   held since " in shown.out
    table = shown.out.split("\n\n")[1].splitlines()
    assert table[0].split() == ["ID", "PRIORITY", "EXPERIMENT", "GPUS", "NOTE"]
    assert [row.split()[:2] for row in table[1:]] == [[str(second), "5"], [str(first), "0"]]
    assert all(row.endswith("queue is held") for row in table[1:])
    data = cli("--json", "queue", "show").json()
    assert data["held"] is True and [q["id"] for q in data["queued"]] == [second, first]
    assert "queue is held" in cli("run", "show", first).out and spawned == []

    settings.set_value(store, "max_concurrent_runs", 1)
    released = cli("queue", "release")
    assert released.code == 0 and released.out == (f"queue released; started run {second}; run {first} waits: "
                                                   f"waiting for run {second} to finish (max concurrent runs 1)\n")
    assert spawned == [second] and runs.get(store, second).status == RunStatus.STARTING
    runs.transition(store, second, RunStatus.RUNNING, "test")
    runs.update(store, second, step=40, total_steps=100, eta_seconds=95.0)
    assert f"active  run {second} (running, step 40/100, eta 95 s)\n" in cli("queue", "show").out
    assert cli("queue", "release").out.startswith("the queue was not held; run ")
    assert cli("--json", "queue", "show").json()["held"] is False


def test_serve_until_idle_ends_saying_the_queue_is_held_not_idle(store, cli, spawned) -> None:
    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    cli("queue", "hold")
    first = runs.create(store, "e", requested_gpus="cpu").id
    second = runs.create(store, "e", requested_gpus="cpu", priority=5).id
    served = cli("queue", "serve", "--interval", "0.01", "--until-idle")
    assert served.code == 0 and spawned == []
    assert served.out == (f"queue is held; runs {second}, {first} stay queued until `spark-trainer queue release`; "
                          "while it served: no run ended\n")
    assert f"runs {second}, {first} stay queued: the queue is held" in served.err  # said once as it began

    settings.set_value(store, "max_concurrent_runs", 1)
    cli("queue", "hold")
    third = runs.create(store, "e", requested_gpus="cpu", priority=9).id
    released = cli("queue", "release").out  # what waits, in the order it starts
    assert released.index(f"run {second} waits") < released.index(f"run {first} waits"), released
    assert f"started run {third}" in released
