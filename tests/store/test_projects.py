"""Names shared by several projects: the error says which object to take, by an id every command accepts."""

from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.store import datasets, experiments, projects
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.store import Store


def test_an_ambiguous_name_lists_each_project_with_the_id_to_use(store: Store) -> None:
    made = {}
    for project in ("demo", "examples"):
        projects.create(store, project)
        ds = datasets.create(store, project, NewDataset(name="train", kind="text", path="/tmp/x", num_items=1))
        made[project] = experiments.create(store, project=project, name="tiny-lora", recipe="causal-lm",
                                           base_model="m", dataset=ds.id, config={}).id
    # `run start`, `launch` and `exp delete` take no --project: the id is the way out they all have.
    with pytest.raises(BadInput) as exc:
        experiments.get(store, "tiny-lora")
    message = str(exc.value)
    assert f"id {made['demo']} in demo" in message and f"id {made['examples']} in examples" in message
    assert "use the id" in message
    assert experiments.get(store, "tiny-lora", "examples").id == made["examples"]


def test_the_list_counts_each_project_as_getting_it_does(store: Store) -> None:
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus

    projects.create(store, "empty")
    for project, n in (("one", 1), ("two", 2)):
        projects.create(store, project)
        for i in range(n):
            ds = datasets.create(store, project, NewDataset(name=f"d{i}", kind="text", path="/tmp/x", num_items=1))
            exp = experiments.create(store, project=project, name=f"e{i}", recipe="causal-lm", base_model="m",
                                     dataset=ds.id, config={})
            for _ in range(n):
                run = runs.create(store, exp.id, requested_gpus="cpu")
            for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
                runs.transition(store, run.id, to, "test")  # a finished run: last activity is its end
    listed = projects.list_all(store)
    assert [p.name for p in listed] == ["empty", "one", "two"]
    assert listed == [projects.get(store, p.name) for p in listed]
    assert [(p.num_datasets, p.num_experiments, p.num_runs) for p in listed] == [(0, 0, 0), (1, 1, 1), (2, 2, 4)]
    assert projects.list_all(store, search="tw") == [projects.get(store, "two")]
