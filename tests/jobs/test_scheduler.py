"""GPU placement and claiming: FIFO with priority, max concurrent, no sharing, CPU runs, and
schedulers in several processes never starting a run twice."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.jobs import process, scheduler
from spark_trainer.jobs.scheduler import make_picker, schedule_once
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def _claim(store: Store, machine: list[int], max_concurrent: int = 8, sharing: bool = False) -> dict[int, list[int]]:
    return {r.id: r.gpus for r in runs.claim(store, make_picker(machine, max_concurrent, sharing))}


def test_parse_request_forms() -> None:
    assert gpu_alloc.parse_request("auto").auto
    assert gpu_alloc.parse_request("cpu").is_cpu
    assert gpu_alloc.parse_request("cpu:2").cpu_processes == 2
    assert gpu_alloc.parse_request("count:2").count == 2
    assert gpu_alloc.parse_request("count:2").ids is None
    assert gpu_alloc.parse_request("1,0").ids == (0, 1)
    assert gpu_alloc.parse_request("0").ids == (0,)  # a bare number is a GPU id, as the GUI picker offers
    assert gpu_alloc.parse_request("3,").ids == (3,)
    for bad in ("gpu", "-1", "1,a", "cpu:0", "count:0", "count:x", ","):
        with pytest.raises(BadInput, match="gpus"):
            gpu_alloc.parse_request(bad)


def test_an_empty_gpu_id_is_refused_not_skipped() -> None:
    # "0,,1" is most likely an id lost while typing: refused, naming the field; one trailing comma
    # ("3,", as YAML keeps `gpus: 3,`) is still read as the list it ends. Only where the user types:
    # a stored value (accepted before) is read as it always was, empty ids dropped.
    for typed in ("0,,1", ",1", "0,,"):
        with pytest.raises(BadInput) as refused:
            gpu_alloc.parse_request(typed, typed=True)
        assert str(refused.value) == f"gpus: {typed!r} has an empty GPU id; separate ids with one comma, like 0,1"
    assert gpu_alloc.parse_request("0,,1").ids == (0, 1)
    assert gpu_alloc.parse_request("0,,1").text == "0,1"
    assert gpu_alloc.parse_request(",1").ids == (1,)
    assert gpu_alloc.parse_request("3,").text == "3,"


def test_requests_this_machine_cannot_meet_are_refused() -> None:
    with pytest.raises(BadInput, match="GPU 3 requested but this machine has 2 GPUs"):
        gpu_alloc.check_fits(gpu_alloc.parse_request("3,"), [0, 1])
    with pytest.raises(BadInput, match="4 GPUs requested"):
        gpu_alloc.check_fits(gpu_alloc.parse_request("count:4"), [0, 1])
    gpu_alloc.check_fits(gpu_alloc.parse_request("auto"), [])  # auto falls back to the CPU


def test_gpus_are_never_shared_and_runs_wait_for_theirs(store: Store, experiment) -> None:
    a = runs.create(store, experiment.id, requested_gpus="count:1")
    b = runs.create(store, experiment.id, requested_gpus="0")  # wants GPU 0, which a takes
    c = runs.create(store, experiment.id, requested_gpus="count:1")
    d = runs.create(store, experiment.id, requested_gpus="cpu")
    claimed = _claim(store, [0, 1])
    assert claimed == {a.id: [0], c.id: [1], d.id: []}
    assert runs.get(store, b.id).status == RunStatus.QUEUED
    assert _claim(store, [0, 1]) == {}  # nothing free until a run ends
    runs.transition(store, a.id, RunStatus.FAILED, "test: ended")
    assert _claim(store, [0, 1]) == {b.id: [0]}


def test_sharing_when_allowed(store: Store, experiment) -> None:
    a = runs.create(store, experiment.id, requested_gpus="0,")
    b = runs.create(store, experiment.id, requested_gpus="0,")
    assert _claim(store, [0], sharing=True) == {a.id: [0], b.id: [0]}


def test_max_concurrent_and_priority_order(store: Store, experiment) -> None:
    low = runs.create(store, experiment.id, requested_gpus="cpu")
    high = runs.create(store, experiment.id, requested_gpus="cpu", priority=5)
    last = runs.create(store, experiment.id, requested_gpus="cpu")
    assert list(_claim(store, [], max_concurrent=2)) == [high.id, low.id]
    assert runs.get(store, last.id).status == RunStatus.QUEUED
    events = [(e.from_status, e.to_status) for e in runs.events(store, high.id)]
    assert events == [(None, "queued"), ("queued", "starting")]


def test_a_queued_run_says_what_it_waits_for(store: Store, experiment) -> None:
    """`run start`/`run resume`, `run show` and the app say why a run stays queued: which run holds
    the slot or the GPU, from the scheduler's own placement policy (a run waiting behind another
    used to say only "queued")."""
    from spark_trainer.jobs.scheduler import READY, waiting_reason, waiting_reasons
    from spark_trainer.store import settings

    settings.set_value(store, "max_concurrent_runs", 1)
    first = runs.create(store, experiment.id, requested_gpus="cpu")
    waiting = runs.create(store, experiment.id, requested_gpus="cpu")
    assert list(_claim(store, [0], max_concurrent=1)) == [first.id]
    assert waiting_reasons(store, machine=[0]) == {
        waiting.id: f"waiting for run {first.id} to finish (max concurrent runs 1)"}
    assert waiting_reason(store, runs.get(store, waiting.id)).startswith(f"waiting for run {first.id} to finish")
    settings.set_value(store, "max_concurrent_runs", 3)
    runs.transition(store, first.id, RunStatus.RUNNING, "test")
    runs.update(store, first.id, gpus=[0])
    on_gpu = runs.create(store, experiment.id, requested_gpus="0")
    any_two = runs.create(store, experiment.id, requested_gpus="count:2")
    missing = runs.create(store, experiment.id, requested_gpus="1")
    assert waiting_reasons(store, machine=[0]) == {
        waiting.id: READY,  # a slot is free and it runs on the CPU: only a scheduler is missing
        on_gpu.id: f"waiting for GPU 0 (used by run {first.id})",
        any_two.id: "waiting for 2 free GPUs; this machine has 1",
        missing.id: "waiting for GPU 1, which this machine does not have"}
    assert waiting_reasons(store, machine=[0, 1])[any_two.id] == f"waiting for 2 free GPUs (GPU 0 used by run {first.id})"


def test_auto_takes_one_free_gpu_or_the_cpu(store: Store, experiment) -> None:
    a = runs.create(store, experiment.id, requested_gpus="auto")
    b = runs.create(store, experiment.id, requested_gpus="auto")
    assert _claim(store, [0]) == {a.id: [0]}
    assert runs.get(store, b.id).status == RunStatus.QUEUED
    c = runs.create(store, experiment.id, requested_gpus="auto")
    assert _claim(store, []) == {b.id: [], c.id: []}  # a machine with no GPU trains on the CPU


CLAIMER = """
import sys
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.store import runs
from spark_trainer.store.store import Store
with Store.open(sys.argv[1]) as store:
    got = []
    for _ in range(20):
        got += [r.id for r in runs.claim(store, make_picker([0, 1, 2, 3], 100, False))]
    print(",".join(map(str, got)))
"""


def test_concurrent_schedulers_never_claim_a_run_or_gpu_twice(store: Store, experiment) -> None:
    created = [runs.create(store, experiment.id, requested_gpus="count:1").id for _ in range(6)]
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, str(store.home.root)], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    claimed = [int(x) for out in outputs for x in out.split(",") if x]
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 4  # four GPUs, one run each
    gpus = [g for r in runs.list_all(store, statuses={RunStatus.STARTING}) for g in r.gpus]
    assert sorted(gpus) == [0, 1, 2, 3]
    assert sum(runs.get(store, i).status == RunStatus.QUEUED for i in created) == 2


def test_a_queued_run_whose_folder_was_deleted_fails_in_one_line_and_nothing_is_recreated(store: Store,
                                                                                        run_file) -> None:
    """The worker used to be spawned all the same: its log recreated the folder, the worker adopted it
    (wrote run.json) and failed on 'config.yaml: file not found'; a resume was then accepted (the
    folder existed again) and failed the same way."""
    import shutil
    from pathlib import Path

    from spark_trainer.config import load_config
    from spark_trainer.jobs import control
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.submit import submit_config

    path = run_file("gone")
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    shutil.rmtree(run.run_dir)
    assert schedule_once(store, machine=[]) == []
    failed = runs.get(store, run.id)
    assert failed.status == RunStatus.FAILED and failed.pid is None
    assert failed.error == (f"run {run.id} cannot start: its folder {run.run_dir} is gone (deleted or moved by "
                            f"hand since the submit); start a new run of experiment 'gone' instead")
    assert not Path(run.run_dir).exists()
    with pytest.raises(BadInput, match="is gone"):
        control.resume(store, run.id)


def test_a_held_queue_starts_nothing_until_it_is_released(store: Store, experiment, spawned) -> None:
    from spark_trainer.jobs import scheduler
    from spark_trainer.store import queue_hold, settings

    settings.set_value(store, "max_concurrent_runs", 4)
    queue_hold.hold(store)
    low = runs.create(store, experiment.id, requested_gpus="cpu")
    high = runs.create(store, experiment.id, requested_gpus="cpu", priority=5)
    assert scheduler.schedule_once(store, machine=[]) == [] and spawned == []
    assert scheduler.waiting_reasons(store, machine=[]) == dict.fromkeys([low.id, high.id], queue_hold.REASON)
    assert scheduler.short_reason(queue_hold.REASON) == "queue is held"
    kind, line = scheduler.hold_of(store)
    assert kind == "queue" and line.startswith(f"runs {high.id}, {low.id} stay queued: the queue is held; they start "
                                               "once it is released"), line

    said: list[str] = []  # serve says it once, and --until-idle does not wait for a person
    scheduler.serve(store, interval_s=0.01, until_idle=True, on_waiting=said.append)
    assert said == [line] and spawned == []

    queue_hold.release(store)
    assert scheduler.hold_of(store) is None
    assert scheduler.schedule_once(store, machine=[]) == [high.id, low.id] == spawned  # priority first


def _stopped_while_starting(store: Store, experiment, monkeypatch: pytest.MonkeyPatch, spawn) -> list[int]:
    """Two queued runs and a scheduler pass whose first spawn is interrupted as SIGTERM interrupts
    `queue serve` (a KeyboardInterrupt)."""
    settings.set_value(store, "max_concurrent_runs", 4)
    ids = [runs.create(store, experiment.id, requested_gpus="cpu").id for _ in range(2)]
    monkeypatch.setattr(process, "spawn_worker", spawn)
    with pytest.raises(KeyboardInterrupt):
        schedule_once(store, machine=[])
    return ids


def test_runs_claimed_by_a_scheduler_stopped_before_their_spawn_go_back_to_the_queue(store: Store, experiment,
                                                                                      monkeypatch) -> None:
    """Seen: SIGTERM to `queue serve` between its claim and the worker's spawn left the run starting
    until reconcile gave up on it a minute later; it then ended interrupted, started by no one."""

    def stopped_before_the_fork(*_args, **_kwargs):
        raise KeyboardInterrupt

    ids = _stopped_while_starting(store, experiment, monkeypatch, stopped_before_the_fork)
    for run_id in ids:
        back = runs.get(store, run_id)
        assert (back.status, back.pid, back.gpus) == (RunStatus.QUEUED, None, [])
        assert runs.events(store, run_id)[-1].reason == scheduler.PUT_BACK
    assert [r.id for r in runs.claim(store, make_picker([], 4, False))] == ids  # the next pass starts them


def test_a_run_whose_worker_was_forked_is_left_to_it_when_its_scheduler_stops(store: Store, experiment,
                                                                              monkeypatch) -> None:
    # Interrupted once the worker's process exists (Popen forks, then waits for its exec): that worker
    # records itself and trains, so its run stays starting; the run never handed out is put back.
    children: list[subprocess.Popen] = []

    def stopped_after_the_fork(*_args, **_kwargs):
        children.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        raise KeyboardInterrupt

    try:
        first, second = _stopped_while_starting(store, experiment, monkeypatch, stopped_after_the_fork)
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert runs.get(store, first).status == RunStatus.STARTING
    assert runs.get(store, second).status == RunStatus.QUEUED


def test_serve_says_a_held_queue_again_when_runs_join_it(store: Store, experiment, spawned) -> None:
    # Seen: "runs 27, 28 stay queued: the queue is held ..." and nothing about run 29, queued a second later.
    from spark_trainer.jobs import scheduler
    from spark_trainer.store import queue_hold

    queue_hold.hold(store)
    first = runs.create(store, experiment.id, requested_gpus="cpu")
    said: list[str] = []
    ticks = iter([lambda: None, lambda: runs.create(store, experiment.id, requested_gpus="cpu"), lambda: None])

    class Stop(Exception):
        pass

    def tick() -> None:
        step = next(ticks, None)
        if step is None:
            raise Stop
        step()

    with pytest.raises(Stop):
        scheduler.serve(store, interval_s=0.01, on_waiting=said.append, on_tick=tick)
    second = first.id + 1
    assert [line.split(":")[0] for line in said] == [f"run {first.id} stays queued",
                                                     f"runs {first.id}, {second} stay queued"]
    assert spawned == []


def test_settings_stored_in_the_wrong_type_are_read_as_their_defaults_and_the_queue_moves(store: Store, experiment,
                                                                                         spawned) -> None:
    # Seen: max_concurrent_runs '"abc"' in the database made schedule_once's int() raise, from `run start`
    # and from the worker starting the next queued run (which stayed queued forever); allow_gpu_sharing
    # 'false' read as True.
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:
        session.add(SettingRow(key="max_concurrent_runs", value="abc", updated_at=utcnow()))
        session.add(SettingRow(key="allow_gpu_sharing", value="false", updated_at=utcnow()))
    first = runs.create(store, experiment.id, requested_gpus="0,")
    second = runs.create(store, experiment.id, requested_gpus="0,")
    assert scheduler.waiting_reasons(store, machine=[0]) == {
        first.id: scheduler.READY, second.id: f"waiting for run {first.id} to finish (max concurrent runs 1)"}
    assert scheduler.schedule_once(store, machine=[0]) == [first.id] == spawned  # the default: one at a time
    settings.set_value(store, "max_concurrent_runs", 2)
    assert scheduler.schedule_once(store, machine=[0]) == []  # GPU 0 is not shared: 'false' is False
    assert scheduler.waiting_reasons(store, machine=[0])[second.id] == f"waiting for GPU 0 (used by run {first.id})"
