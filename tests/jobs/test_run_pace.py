"""An earlier run's pace (seconds per step, start-up, finish) from its metric wall times and events,
and which earlier run predicts a queued one."""

from __future__ import annotations

import pytest

from spark_trainer.jobs.run_pace import SAME_EXPERIMENT, SAME_SETTINGS, SAME_SWEEP, measure, predictor
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from tests.jobs.queue_history import Clock, completed, experiment, spell


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def test_a_completed_run_s_pace_keeps_start_up_and_finish_out_of_the_steps(store, clock) -> None:
    experiment(store, "a")
    run_id = completed(store, clock, "a", steps=100, per_step=2.0, start_up=30.0, finish=10.0)
    pace = measure(store, runs.get(store, run_id))
    assert pace is not None and not pace.from_events
    assert (pace.seconds_per_step, pace.start_up_s, pace.finish_s) == pytest.approx((2.0, 30.0, 10.0))
    assert pace.seconds(200) == pytest.approx(30 + 400 + 10)


def test_a_paused_and_resumed_run_counts_neither_the_pause_nor_the_restart_as_steps(store, clock) -> None:
    experiment(store, "a")
    run_id = runs.create(store, "a", requested_gpus="cpu", total_steps=100).id
    paused = spell(store, clock, run_id, 0.0, range(1, 41), 2.0, 30.0, 5.0, RunStatus.PAUSED)
    clock.at = paused + 60
    runs.transition(store, run_id, RunStatus.QUEUED, "resume requested")
    metrics.delete_after(store, run_id, 30)  # the resumed worker goes on from its step-30 checkpoint
    spell(store, clock, run_id, paused + 3 * 3600, range(31, 101), 2.0, 20.0, 10.0, RunStatus.COMPLETED)
    pace = measure(store, runs.get(store, run_id))
    assert pace is not None
    # Steps 1-30 in the first spell and 31-100 in the second, 2 s each; the three hours paused and the
    # second start-up are in neither. Event time over steps would say (115 + 170) / 100 s... plus 3 h.
    assert (pace.seconds_per_step, pace.start_up_s, pace.finish_s) == pytest.approx((2.0, 30.0, 10.0))


def test_a_run_without_metric_wall_times_is_measured_from_its_events(store, clock) -> None:
    experiment(store, "a")
    run_id = runs.create(store, "a", requested_gpus="cpu", total_steps=50).id
    clock.at = 0
    runs.transition(store, run_id, RunStatus.STARTING, "claimed")
    runs.transition(store, run_id, RunStatus.RUNNING, "worker started")
    clock.at = 150
    runs.transition(store, run_id, RunStatus.COMPLETED, "test", step=50)
    pace = measure(store, runs.get(store, run_id))
    assert pace is not None and pace.from_events and pace.seconds_per_step == pytest.approx(3.0)
    assert pace.seconds(50) == pytest.approx(150)


def test_the_predictor_is_the_newest_completed_run_of_the_experiment_else_of_the_sweep(store, clock) -> None:
    experiment(store, "a")
    experiment(store, "b")
    completed(store, clock, "a", steps=10, per_step=5.0, start_up=0.0, finish=0.0)
    newest = completed(store, clock, "a", steps=10, per_step=2.0, start_up=0.0, finish=0.0, start=1000.0)
    swept = completed(store, clock, "b", steps=10, per_step=7.0, start_up=0.0, finish=0.0, start=2000.0, sweep="s")
    done = runs.list_all(store, statuses={RunStatus.COMPLETED})
    queued_a = runs.create(store, "a", requested_gpus="cpu", total_steps=10, sweep="s")
    pace = predictor(store, queued_a, done)
    assert (pace.run_id, pace.how, pace.seconds_per_step) == (newest, SAME_EXPERIMENT, pytest.approx(2.0))
    experiment(store, "c")
    queued_c = runs.create(store, "c", requested_gpus="cpu", total_steps=10, sweep="s")
    pace = predictor(store, queued_c, done)
    assert (pace.run_id, pace.how, pace.seconds_per_step) == (swept, SAME_SWEEP, pytest.approx(7.0))
    assert predictor(store, runs.create(store, "c", requested_gpus="cpu", total_steps=10), done) is None


def _freeze(run, *, batch_size: int = 4, seq_len: int = 64) -> None:
    """The run's frozen config.yaml, as submit writes it."""
    from pathlib import Path

    from spark_trainer.config import save_config, validate_config

    config = validate_config({"name": run.experiment, "recipe": "causal-lm", "base_model": "m", "dataset": "d",
                              "train": {"batch_size": batch_size}, "recipe_config": {"seq_len": seq_len}}, "test")
    save_config(config, Path(run.run_dir) / "config.yaml")


def test_else_the_predictor_is_a_run_with_the_same_settings_on_the_same_kind_of_device(store, clock) -> None:
    experiment(store, "a")
    experiment(store, "b")
    same = completed(store, clock, "a", steps=10, per_step=3.0, start_up=0.0, finish=0.0)
    bigger = completed(store, clock, "a", steps=10, per_step=9.0, start_up=0.0, finish=0.0, start=1000.0)
    _freeze(runs.get(store, same))
    _freeze(runs.get(store, bigger), batch_size=16)
    done = runs.list_all(store, statuses={RunStatus.COMPLETED})
    queued = runs.create(store, "b", requested_gpus="cpu", total_steps=10)
    _freeze(queued)
    pace = predictor(store, queued, done)
    assert (pace.run_id, pace.how, pace.seconds_per_step) == (same, SAME_SETTINGS, pytest.approx(3.0))
    on_gpu = runs.create(store, "b", requested_gpus="count:1", total_steps=10)
    _freeze(on_gpu)
    assert predictor(store, on_gpu, done) is None  # the earlier runs trained on the CPU


def test_a_run_of_the_same_experiment_or_sweep_with_other_settings_does_not_predict(store, clock) -> None:
    experiment(store, "a")
    experiment(store, "b")
    older = completed(store, clock, "a", steps=10, per_step=9.0, start_up=0.0, finish=0.0, sweep="s")
    newest = completed(store, clock, "a", steps=10, per_step=3.0, start_up=0.0, finish=0.0, start=1000.0, sweep="s")
    _freeze(runs.get(store, older), batch_size=32)
    _freeze(runs.get(store, newest), batch_size=8)
    done = runs.list_all(store, statuses={RunStatus.COMPLETED})
    queued = runs.create(store, "a", requested_gpus="cpu", total_steps=10)  # train --set train.batch_size=32
    _freeze(queued, batch_size=32)
    pace = predictor(store, queued, done)
    assert (pace.run_id, pace.how, pace.seconds_per_step) == (older, SAME_EXPERIMENT, pytest.approx(9.0))
    swept = runs.create(store, "b", requested_gpus="cpu", total_steps=10, sweep="s")
    _freeze(swept, batch_size=32)
    assert (predictor(store, swept, done).run_id, predictor(store, swept, done).how) == (older, SAME_SWEEP)
    runs.update(store, newest, run_dir=runs.get(store, newest).run_dir + "-gone")  # settings unread: not passed over
    assert predictor(store, queued, runs.list_all(store, statuses={RunStatus.COMPLETED})).run_id == newest


def test_a_queued_auto_run_on_a_machine_without_gpus_is_predicted_by_one_that_ran_on_the_cpu(store, clock) -> None:
    from spark_trainer.jobs.run_pace import Memo

    experiment(store, "a")
    experiment(store, "b")
    earlier = runs.create(store, "a", requested_gpus="auto", total_steps=10)
    spell(store, clock, earlier.id, 0.0, range(1, 11), 4.0, 0.0, 0.0, RunStatus.COMPLETED)
    _freeze(earlier)
    done = runs.list_all(store, statuses={RunStatus.COMPLETED})
    assert not done[0].gpus and done[0].started_at
    queued = runs.create(store, "b", requested_gpus="auto", total_steps=10)
    _freeze(queued)
    pace = predictor(store, queued, done, Memo(0))
    assert (pace.run_id, pace.how) == (earlier.id, SAME_SETTINGS)
    assert predictor(store, queued, done, Memo(2)) is None  # auto takes a GPU there


def test_the_longest_recent_step_is_measured_within_spells_newest_first(store, clock) -> None:
    from spark_trainer.jobs.run_pace import longest_recent_step
    from tests.jobs.queue_history import wall

    experiment(store, "a")
    run_id = runs.create(store, "a", requested_gpus="cpu", total_steps=100).id
    assert longest_recent_step(store, runs.get(store, run_id)) is None  # nothing trained yet
    paused = spell(store, clock, run_id, 0.0, range(1, 11), 4.0, 30.0, 5.0, RunStatus.PAUSED)
    clock.at = paused + 600
    runs.transition(store, run_id, RunStatus.QUEUED, "resume requested")
    spell(store, clock, run_id, paused + 3600, range(11, 21), 1.0, 20.0, 0.0, RunStatus.PAUSED)
    clock.at += 10
    runs.transition(store, run_id, RunStatus.QUEUED, "resume requested")
    runs.transition(store, run_id, RunStatus.STARTING, "claimed")
    runs.transition(store, run_id, RunStatus.RUNNING, "worker started")
    metrics.add_batch(store, run_id, [("lr", 21, 1e-3, wall(clock.at + 20))])

    def longest(last: int) -> float | None:
        return longest_recent_step(store, runs.get(store, run_id), last=last)

    # The running spell has one point (no step measured yet): the spells before it, newest first, never
    # across a pause (an hour) nor a spell's start-up (20 or 30 s before its first point).
    assert longest(9) == pytest.approx(1.0) and longest(10) == pytest.approx(4.0)
    metrics.add_batch(store, run_id, [("lr", 22, 1e-3, wall(clock.at + 26)), ("lr", 23, 1e-3, wall(clock.at + 27))])
    assert longest(1) == pytest.approx(1.0) and longest(2) == pytest.approx(6.0)  # an evaluation before step 22
    assert longest(20) == pytest.approx(6.0)
