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
    assert table[0].split() == ["ID", "PRIORITY", "EXPERIMENT", "GPUS", "STARTS", "NOTE"]
    assert [row.split()[:2] for row in table[1:]] == [[str(second), "5"], [str(first), "0"]]
    assert all(row.endswith("queue is held") for row in table[1:])
    gpus = table[0].index("GPUS")
    assert [row[gpus:].split()[:2] for row in table[1:]] == [["asked", "CPU"]] * 2  # as `run list` says it: it said "cpu"
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
    held = [line for line in served.err.splitlines() if "the queue is held" in line]
    assert len(held) == 1 and held[0].startswith("[")  # said once as it began, with the time as every serve line
    assert f"] runs {second}, {first} stay queued: the queue is held" in held[0]

    settings.set_value(store, "max_concurrent_runs", 1)
    cli("queue", "hold")
    third = runs.create(store, "e", requested_gpus="cpu", priority=9).id
    released = cli("queue", "release").out  # what waits, in the order it starts
    assert released.index(f"run {second} waits") < released.index(f"run {first} waits"), released
    assert f"started run {third}" in released


def test_show_says_when_the_queue_ends_on_the_computer_s_clock(store, cli, monkeypatch, new_york) -> None:
    from spark_trainer.jobs import queue_eta, scheduler
    from tests.jobs.queue_history import NOW, Clock, a_night

    night = a_night(store, Clock(monkeypatch))
    monkeypatch.setattr(queue_eta, "utcnow", lambda: NOW)
    monkeypatch.setattr(scheduler, "machine_gpus", lambda: [])
    settings.set_value(store, "max_concurrent_runs", 1)
    # NOW is 22:00 UTC, 17:00 in New York; a starts after the active run's 600 s, b 440 s later, c 110 s
    # after that, and the queue ends then (c, never run, is not counted).
    shown = cli("queue", "show")
    assert shown.code == 0
    assert (f"ends    about 17:19 (estimated from earlier runs of the same experiment; run {night['c']} has no "
            "earlier completed run of the same experiment, sweep or settings to measure: not counted)\n") in shown.out
    table = shown.out.split("\n\n")[1].splitlines()
    starts = table[0].index("STARTS")
    assert [row[starts:].split()[:2] for row in table[1:]] == [["about", "17:10"], ["about", "17:17"], ["about", "17:19"]]
    data = cli("--json", "queue", "show").json()
    assert data["estimated_end"] == "2026-01-05T22:19:10+00:00" and data["estimated_end_in_s"] == 1150
    assert data["not_counted"] == [night["c"]]
    first = data["queued"][0]
    assert (first["estimated_start"], first["estimated_end_in_s"]) == ("2026-01-05T22:10:00+00:00", 1040)
    assert first["estimated_from"] == {"run": 1, "same": "experiment", "seconds_per_step": 2.0, "start_up_s": 30.0,
                                       "finish_s": 10.0}
    assert data["queued"][2]["estimated_end"] is None

    cli("queue", "hold")
    held = cli("queue", "show")
    assert "ends    about 19 min after release (if released now; estimated from earlier runs of the same experiment; " in held.out
    assert "about 10 min after release" in held.out.split("\n\n")[1]
    data = cli("--json", "queue", "show").json()
    assert (data["estimated_end"], data["estimated_end_in_s"]) == (None, 1150)
    assert data["queued"][0]["estimated_start"] is None and data["queued"][0]["estimated_start_in_s"] == 600


def test_show_says_so_when_no_queued_run_can_be_estimated(store, cli) -> None:
    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    first = runs.create(store, "e", requested_gpus="cpu", total_steps=10).id
    shown = cli("queue", "show").out
    assert (f"ends    not estimated: run {first} has no earlier completed run of the same experiment, sweep or "
            "settings to measure\n") in shown

    settings.set_value(store, "max_concurrent_runs", 1)
    second = runs.create(store, "e", requested_gpus="cpu", total_steps=10).id  # can only start after the first
    shown = cli("queue", "show").out
    assert (f"ends    not estimated: run {first} has no earlier completed run of the same experiment, sweep or "
            f"settings to measure, and run {second} waits behind it\n") in shown
    table = shown.split("\n\n")[1].splitlines()
    assert table[2][table[0].index("STARTS"):].split()[0] == "-"  # its STARTS: unknown, not "now"
