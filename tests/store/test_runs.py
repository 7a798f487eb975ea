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
