"""When the night's queue will be done: the schedule simulated from earlier runs' paces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spark_trainer.jobs.queue_eta import estimate, simulate
from spark_trainer.store import queue_hold, runs, settings
from tests.jobs.queue_history import NOW, T0, Clock, a_night


@pytest.fixture
def night(store, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    return a_night(store, Clock(monkeypatch))


def _at(seconds: float):
    return NOW + timedelta(seconds=seconds)


def test_one_slot_runs_the_queue_one_after_another(store, night) -> None:
    settings.set_value(store, "max_concurrent_runs", 1)
    found = estimate(store, now=NOW, machine=[])
    assert [e.run_id for e in found.queued] == [night["a"], night["b"], night["c"]]
    assert [(e.start, e.end) for e in found.queued] == [(_at(600), _at(1040)), (_at(1040), _at(1150)),
                                                         (_at(1150), None)]
    assert found.end == _at(1150) and found.not_counted == [night["c"]] and found.sources == ["experiment"]
    assert found.active[0].end == _at(600) and not found.held


def test_two_slots_start_the_next_run_when_either_frees_its_slot(store, night) -> None:
    settings.set_value(store, "max_concurrent_runs", 2)
    found = estimate(store, now=NOW, machine=[])
    assert [(e.start, e.end) for e in found.queued] == [(_at(0), _at(440)), (_at(440), _at(550)), (_at(550), None)]
    assert found.end == _at(600)  # the active run ends last


def test_a_held_queue_is_estimated_as_if_released_now(store, night) -> None:
    settings.set_value(store, "max_concurrent_runs", 1)
    queue_hold.hold(store)
    found = estimate(store, now=NOW, machine=[])
    assert found.held and found.end == _at(1150)


def test_an_active_run_without_an_eta_ends_after_its_predictor_s_time(store, night) -> None:
    settings.set_value(store, "max_concurrent_runs", 1)
    runs.update(store, night["active"], eta_seconds=None, step=0)
    # Its worker started at T0 + 1060 s (when b's run ended), 100 s ago: it ends 30 + 500 * 2 + 10 s after
    # that, 940 s from now; the queue's runs follow it.
    now = T0 + timedelta(seconds=1160)
    found = estimate(store, now=now, machine=[])
    assert found.active[0].end == now + timedelta(seconds=940)
    assert found.queued[0].start == now + timedelta(seconds=940)
    assert estimate(store, now=T0 + timedelta(hours=5), machine=[]).active[0].end == T0 + timedelta(hours=5)


def test_nothing_queued_has_no_end(store) -> None:
    found = estimate(store, now=NOW, machine=[])
    assert found.end is None and found.queued == []


def _asks(text: str):
    from spark_trainer.jobs.gpus import parse_request

    return parse_request(text)


def test_gpus_are_counted_without_sharing() -> None:
    # One GPU, two slots: the GPU runs go one after another; the CPU run starts beside them at once;
    # a run asking for 2 GPUs never starts.
    one, cpu, two = _asks("count:1"), _asks("cpu"), _asks("count:2")
    placed = simulate(NOW, [], [(1, 100.0, one), (2, 50.0, one), (3, 30.0, cpu), (4, 10.0, two)], 2, [0])
    assert placed == {1: (_at(0), _at(100)), 2: (_at(100), _at(150)), 3: (_at(0), _at(30)), 4: (None, None)}
    assert simulate(NOW, [], [(1, 100.0, one), (2, 50.0, one)], 2, [0], sharing=True) == {1: (_at(0), _at(100)),
                                                                                         2: (_at(0), _at(50))}


def test_a_run_asking_for_a_gpu_by_id_waits_for_that_gpu() -> None:
    """GPUs were counted, not named: a run asking for GPU 1 was shown starting at once beside the run
    training on GPU 1, because GPU 0 was free; the scheduler keeps it waiting for GPU 1."""
    placed = simulate(NOW, [(9, _at(300), [1])], [(1, 100.0, _asks("1")), (2, 50.0, _asks("auto"))], 4, [0, 1])
    assert placed == {1: (_at(300), _at(400)), 2: (_at(0), _at(50))}  # run 2 takes the free GPU 0 meanwhile
    assert simulate(NOW, [], [(1, 10.0, _asks("3"))], 4, [0, 1]) == {1: (None, None)}  # no GPU 3 here: never


def test_durations_are_said_as_an_estimate_is_read() -> None:
    from spark_trainer.jobs.queue_eta import about, span_text

    assert [span_text(s) for s in (20, 90, 1500, 7500)] == ["under a minute", "2 min", "25 min", "2 h 05 min"]
    assert about("under a minute after release") == "under a minute after release"
    assert about("03:40") == "about 03:40"


def test_a_run_without_an_estimate_holds_its_slot_for_an_unknown_time() -> None:
    # One slot: run 2 can only start after run 1, which has no estimate: its start is unknown, not "now".
    cpu, one = _asks("cpu"), _asks("count:1")
    assert simulate(NOW, [], [(1, None, cpu), (2, 50.0, cpu)], 1, []) == {1: (_at(0), None), 2: (None, None)}
    # Two slots: run 2 starts beside it, run 3 after run 2.
    assert simulate(NOW, [], [(1, None, cpu), (2, 50.0, cpu), (3, 10.0, cpu)], 2, []) == {
        1: (_at(0), None), 2: (_at(0), _at(50)), 3: (_at(50), _at(60))}
    # An active run without an estimate holds its slot, and its GPU, as long.
    assert simulate(NOW, [(9, None, [0])], [(1, 10.0, cpu)], 1, [0]) == {1: (None, None)}
    assert simulate(NOW, [(9, None, [0])], [(1, 10.0, one), (2, 5.0, cpu)], 2, [0]) == {1: (None, None),
                                                                                        2: (_at(0), _at(5))}


def _note(text: str) -> str:
    return text[text.index("(") + 1:]


def test_runs_waiting_behind_a_run_without_an_estimate_are_not_counted(store, night) -> None:
    from spark_trainer.jobs.queue_eta import end_text, start_text

    settings.set_value(store, "max_concurrent_runs", 1)
    runs.update(store, night["a"], priority=9)
    runs.update(store, night["c"], priority=5)  # a, then c (no estimate), then b behind it
    found = estimate(store, now=NOW, machine=[])
    assert [(e.run_id, e.start, e.end, e.fits) for e in found.queued] == [
        (night["a"], _at(600), _at(1040), True), (night["c"], _at(1040), None, True), (night["b"], None, None, True)]
    assert found.end == _at(1040) and found.not_counted == [night["c"], night["b"]]
    assert _note(end_text(found)) == (
        f"estimated from earlier runs of the same experiment; run {night['c']} has no earlier completed run of the "
        f"same experiment, sweep or settings to measure, and run {night['b']} waits behind it: not counted)")
    assert start_text(found.queued[1].start, found) != "now"

    runs.update(store, night["active"], eta_seconds=None, total_steps=None)  # active, nothing to estimate it by
    found = estimate(store, now=NOW, machine=[])
    assert [e.start for e in found.queued] == [None, None, None] and found.end is None
    assert end_text(found) == (f"not estimated: run {night['active']} (active) has no estimate yet, and runs "
                               f"{night['a']}, {night['c']}, {night['b']} wait behind it")


def test_an_epochs_based_run_is_not_counted_until_its_step_count_is_known(store, night) -> None:
    from spark_trainer.jobs.queue_eta import end_text

    settings.set_value(store, "max_concurrent_runs", 1)
    runs.update(store, night["a"], total_steps=None)  # train.max_steps: null, epochs: 1
    found = estimate(store, now=NOW, machine=[])
    assert found.queued[0].pace is not None and found.queued[0].end is None
    assert end_text(found) == (f"not estimated: run {night['a']}'s step count is known once it starts, and runs "
                               f"{night['b']}, {night['c']} wait behind it")


def test_cpu_runs_side_by_side_are_said_to_be_likely_later(store, night) -> None:
    from spark_trainer.jobs.queue_eta import end_text

    settings.set_value(store, "max_concurrent_runs", 2)
    found = estimate(store, now=NOW, machine=[])  # a trains beside the active run, on the machine's cores
    assert found.cpu_shared and end_text(found).endswith("; CPU runs side by side share its cores: likely later)")
    settings.set_value(store, "max_concurrent_runs", 1)
    found = estimate(store, now=NOW, machine=[])
    assert not found.cpu_shared and "side by side" not in end_text(found)


def test_while_a_full_disk_holds_the_queue_no_queued_run_is_counted(store, night, monkeypatch) -> None:
    """The queue waited for disk space after a run failed on a full disk, and `queue show` and the app still
    said when each queued run would start and when the night would end, as if nothing held them."""
    from pathlib import Path

    from spark_trainer.jobs import disk_hold
    from spark_trainer.jobs.queue_eta import end_text
    from tests.jobs.test_disk_hold import MiB, _check_free_line, _fail

    failed = runs.create(store, "b", requested_gpus="cpu", total_steps=10)
    _fail(store, failed.id, _check_free_line(monkeypatch, Path(failed.run_dir), int(15.4 * MiB), int(1.9 * MiB)))
    free = {"bytes": int(15.4 * MiB)}
    monkeypatch.setattr(disk_hold, "free_bytes", lambda _path: free["bytes"])
    found = estimate(store, now=NOW, machine=[])
    assert [(e.run_id, e.start, e.end) for e in found.queued] == [(night[n], None, None) for n in ("a", "b", "c")]
    assert found.end is None and found.active[0].end == _at(600)  # the active run goes on
    assert end_text(found) == (f"not estimated: the queued runs are waiting for disk space: 15.4 MiB free at "
                               f"{store.home.runs_dir}, run {failed.id} needed about 17.9 MiB")
    free["bytes"] = 18 * MiB  # room freed: estimated again as before
    assert estimate(store, now=NOW, machine=[]).end is not None


def test_a_queued_run_asking_for_the_busy_gpu_starts_when_it_is_freed(store, night) -> None:
    """`queue show` said a run asking for GPU 1 would start now, beside the run training on GPU 1 (GPU 0
    was free, and GPUs were counted, not named); the scheduler keeps it queued until GPU 1 is freed."""
    settings.set_value(store, "max_concurrent_runs", 4)
    runs.update(store, night["active"], gpus=[1])
    runs.update(store, night["a"], requested_gpus="1")
    runs.update(store, night["b"], requested_gpus="auto")
    found = estimate(store, now=NOW, machine=[0, 1])
    starts = {e.run_id: e.start for e in found.queued}
    assert starts[night["a"]] == _at(600)  # when the active run frees GPU 1
    assert starts[night["b"]] == _at(0)  # on the free GPU 0


@pytest.mark.parametrize(("machine", "sharing", "asks"), [([], False, "0"), ([0], True, "count:2")])
def test_a_run_the_machine_cannot_place_never_starts_with_gpu_sharing_or_no_gpus(store, night, machine, sharing,
                                                                                asks) -> None:
    """With GPU sharing allowed, or on a machine without GPUs (a home moved from a GPU machine), a queued
    run asking for GPUs this machine lacks was shown starting now and holding a slot, so the CPU run
    behind it was shown starting after it; the scheduler never starts the first and starts the second now."""
    from spark_trainer.jobs.queue_eta import end_text
    from spark_trainer.jobs.scheduler import READY, waiting_reasons

    settings.set_value(store, "max_concurrent_runs", 2)
    settings.set_value(store, "allow_gpu_sharing", sharing)
    runs.update(store, night["a"], requested_gpus=asks)
    runs.update(store, night["c"], priority=-1)  # last: a, then b
    found = estimate(store, now=NOW, machine=machine)
    assert [(e.run_id, e.start, e.fits) for e in found.queued[:2]] == [(night["a"], None, False),
                                                                        (night["b"], _at(0), True)]
    waiting = waiting_reasons(store, machine=machine)  # the scheduler's own word: b starts now, a waits
    assert waiting[night["b"]] == READY and waiting[night["a"]] != READY
    assert f"run {night['a']} needs GPUs this machine does not have" in end_text(found)


def test_a_run_whose_gpus_value_cannot_be_read_never_starts_and_holds_no_slot(store, night) -> None:
    """A queued run whose stored gpus value cannot be read (edited by hand) was taken as a CPU run: shown
    starting after the active run, with the run behind it after that; the scheduler never places it ("cannot
    be placed") and starts the run behind it when the active run ends."""
    from spark_trainer.jobs.queue_eta import end_text
    from spark_trainer.jobs.scheduler import READY, waiting_reasons

    settings.set_value(store, "max_concurrent_runs", 2)
    runs.update(store, night["a"], requested_gpus="two please")
    runs.update(store, night["c"], priority=-1)  # last: a, then b
    found = estimate(store, now=NOW, machine=[])
    assert [(e.run_id, e.start, e.fits) for e in found.queued[:2]] == [(night["a"], None, False),
                                                                        (night["b"], _at(0), True)]
    waiting = waiting_reasons(store, machine=[])
    assert waiting[night["a"]].startswith("cannot be placed") and waiting[night["b"]] == READY
    assert f"run {night['a']} has a gpus value the scheduler cannot read" in end_text(found)
