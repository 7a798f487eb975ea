"""Listing runs by project and experiment: the project narrows an experiment name down."""

from __future__ import annotations

from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.store import Store


def test_list_by_project_and_an_experiment_name_other_projects_share(store: Store) -> None:
    made = {}
    for project in ("demo", "examples"):  # what `demo` then `train examples/tiny-lora.yaml` make
        projects.create(store, project)
        exp = experiments.create(store, project=project, name="tiny-lora", recipe="causal-lm", base_model="m",
                                 dataset=None, config={})
        made[project] = runs.create(store, exp.id).id
    # `run list --project examples --experiment tiny-lora` said the name was ambiguous.
    listed = runs.list_all(store, project="examples", experiment="tiny-lora")
    assert [r.id for r in listed] == [made["examples"]]


def test_a_heartbeat_records_the_start_up_phase_and_leaving_running_clears_it(store: Store) -> None:
    from spark_trainer.store.entities import RunStatus

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="diffusion-lora", base_model="m",
                             dataset=None, config={})
    run = runs.create(store, exp.id)
    runs.transition(store, run.id, RunStatus.STARTING, "scheduled")
    runs.transition(store, run.id, RunStatus.RUNNING, "worker started")
    runs.beat(store, run.id, "loading the model: caching VAE latents 3/10 images")
    assert runs.get(store, run.id).phase == "loading the model: caching VAE latents 3/10 images"
    assert [r.phase for r in runs.list_all(store)] == ["loading the model: caching VAE latents 3/10 images"]
    runs.beat(store, run.id, "x" * 500)  # longer than the column: cut, not refused
    assert runs.get(store, run.id).phase == "x" * 200
    runs.transition(store, run.id, RunStatus.PAUSED, "paused by request during start-up (loading the model)")
    assert runs.get(store, run.id).phase is None  # not "paused" and still "loading the model"
    runs.beat(store, run.id)
    assert runs.get(store, run.id).phase is None


def test_a_hold_made_after_a_schedulers_first_look_stops_its_claim(store: Store) -> None:
    """The scheduler checked the hold, then claimed in a transaction of its own: a `queue hold` between
    the two printed "run N stays queued" and run N started."""
    from spark_trainer.store import queue_hold
    from spark_trainer.store.entities import RunStatus

    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    queued = runs.create(store, "e", requested_gpus="cpu")

    def pick(waiting, _active):
        return [(run.id, [], "scheduled on CPU") for run in waiting]

    queue_hold.hold(store)  # after the first look, before the claim
    assert runs.claim(store, pick) == []
    assert runs.get(store, queued.id).status == RunStatus.QUEUED
    queue_hold.release(store)
    assert [run.id for run in runs.claim(store, pick)] == [queued.id]
