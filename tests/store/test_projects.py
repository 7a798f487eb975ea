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


# 'Café' typed as one code point (NFC) and as 'e' + a combining acute (NFD: macOS file names, some
# keyboards): the same name on screen.
NFC, NFD = "Caf\u00e9", "Cafe\u0301"


def _stored_as_written(store: Store, model: type, **values: object) -> int:
    """A row written as an older SparkTrainer wrote it: its name not normalised."""
    from spark_trainer.store.entities import utcnow

    with store.write() as session:
        row = model(**values, **({"updated_at": utcnow()} if model.__name__ == "ProjectRow" else {}),
                    created_at=utcnow())
        session.add(row)
        session.flush()
        return row.id


def test_two_spellings_of_a_name_are_one_project(store: Store) -> None:
    made = projects.create(store, NFD)
    assert made.name == NFC  # stored composed
    from spark_trainer.errors import Conflict

    with pytest.raises(Conflict, match="already exists"):
        projects.create(store, NFC)
    assert projects.get(store, NFD).id == projects.get(store, NFC).id == made.id
    assert [p.name for p in projects.list_all(store, search="cafe\u0301")] == [NFC]
    with pytest.raises(Conflict):
        projects.rename(store, projects.create(store, "other").id, NFD)


def test_two_spellings_of_a_name_are_one_dataset_and_one_experiment(store: Store) -> None:
    from spark_trainer.errors import Conflict

    projects.create(store, "p")
    ds = datasets.create(store, "p", NewDataset(name=NFD, kind="text", path="/tmp/x", num_items=1))
    assert ds.name == NFC
    with pytest.raises(Conflict):
        datasets.create(store, "p", NewDataset(name=NFC, kind="text", path="/tmp/y", num_items=1))
    assert datasets.get(store, NFD, "p").id == ds.id
    exp = experiments.create(store, project="p", name=NFD, recipe="causal-lm", base_model="m", dataset=NFC, config={})
    assert exp.name == NFC and experiments.get(store, NFD).id == exp.id
    with pytest.raises(Conflict):
        experiments.create(store, project="p", name=NFC, recipe="causal-lm", base_model="m", dataset=ds.id, config={})


def test_a_name_stored_decomposed_by_an_older_version_is_still_found(store: Store) -> None:
    from spark_trainer.errors import Conflict
    from spark_trainer.store.models import DatasetRow, ProjectRow

    old = _stored_as_written(store, ProjectRow, name=NFD, description="")
    assert projects.get(store, NFC).id == projects.get(store, NFD).id == old
    with pytest.raises(Conflict):
        projects.create(store, NFC)
    ds = _stored_as_written(store, DatasetRow, project_id=old, name=NFD, kind="text", status="ready", path="/tmp/x",
                            num_items=1, sources=[], meta={})
    assert datasets.get(store, NFC).id == ds
    assert datasets.unique_name(store, old, NFC) == f"{NFC}-2"
    assert projects.rename(store, old, NFC).name == NFC  # renaming it to itself stores it composed


def test_two_old_names_that_differ_only_in_spelling_are_told_apart_by_id(store: Store) -> None:
    from spark_trainer.store.models import DatasetRow, ProjectRow

    composed = projects.create(store, NFC).id
    decomposed = _stored_as_written(store, ProjectRow, name=NFD, description="")
    # Each spelling still finds its own; the list shows both, and nothing fails.
    assert projects.get(store, NFC).id == composed and projects.get(store, NFD).id == decomposed
    assert len(projects.list_all(store)) == 2
    # 'ệ' has more spellings than two: one matching neither stored row exactly cannot choose.
    for spelling in ("Vi\u1ec7t", "Vie\u0323\u0302t"):
        _stored_as_written(store, DatasetRow, project_id=composed, name=spelling, kind="text", status="ready",
                           path="/tmp/x", num_items=1, sources=[], meta={})
    assert datasets.get(store, "Vie\u0323\u0302t", composed).name == "Vie\u0323\u0302t"
    with pytest.raises(BadInput, match="use the id"):
        datasets.get(store, "Vi\u00ea\u0323t", composed)
