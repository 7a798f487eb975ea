"""Renaming a dataset: ingestion's name rules, unique per project, the old name remembered for the
error a stale run file gets, and nothing written when it is refused."""

from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput, Conflict, NotFound
from spark_trainer.store import datasets, experiments, projects
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.store import Store
from tests.cli.test_cli import _dump


def _dataset(store: Store, project: str, name: str) -> datasets.Dataset:
    if not any(p.name == project for p in projects.list_all(store)):
        projects.create(store, project)
    return datasets.create(store, project, NewDataset(name=name, kind="text", path=f"/tmp/{name}", num_items=1))


def test_rename_by_name_or_id_keeps_the_id_and_remembers_the_old_name(store: Store) -> None:
    made = _dataset(store, "demo", "imgs-v2-final")
    renamed = datasets.rename(store, "imgs-v2-final", "  flowers ")
    assert (renamed.id, renamed.name, renamed.path, renamed.project) == (made.id, "flowers", made.path, "demo")
    assert datasets.get(store, "flowers") == renamed == datasets.get(store, made.id)
    assert renamed.meta["renamed_from"] == ["imgs-v2-final"]
    again = datasets.rename(store, str(made.id), "roses")  # by id, as the CLI passes it
    assert again.name == "roses" and again.meta["renamed_from"] == ["imgs-v2-final", "flowers"]
    same = datasets.rename(store, "roses", "roses")  # no change: no history either
    assert same.meta["renamed_from"] == ["imgs-v2-final", "flowers"]


@pytest.mark.parametrize(("new_name", "error", "message"), [
    ("", BadInput, "dataset name must not be empty"),
    ("   ", BadInput, "dataset name must not be empty"),
    ("2024", BadInput, "dataset name '2024' is all digits"),
    ("x" * 201, BadInput, "dataset name is 201 characters; the limit is 200"),
    ("texts", Conflict, "project 'demo' already has a dataset named 'texts'"),
])
def test_a_bad_or_taken_name_is_one_line_and_changes_nothing(store: Store, home, new_name, error, message) -> None:
    _dataset(store, "demo", "imgs-v2-final")
    _dataset(store, "demo", "texts")
    before = _dump(home)
    with pytest.raises(error) as exc:
        datasets.rename(store, "imgs-v2-final", new_name)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
    assert _dump(home) == before


def test_names_are_unique_per_project_as_ingestion_has_them(store: Store) -> None:
    _dataset(store, "demo", "imgs-v2-final")
    theirs = _dataset(store, "other", "flowers")
    assert datasets.rename(store, "imgs-v2-final", "flowers").name == "flowers"
    # Now the name is in two projects: a name alone is ambiguous, the project or the id settles it.
    with pytest.raises(BadInput, match="exists in several projects"):
        datasets.rename(store, "flowers", "tulips")
    assert datasets.rename(store, "flowers", "tulips", project="other").id == theirs.id


def test_an_unknown_dataset_is_not_found_and_nothing_changes(store: Store, home) -> None:
    _dataset(store, "demo", "texts")
    before = _dump(home)
    with pytest.raises(NotFound, match="no dataset named or numbered 'nope'"):
        datasets.rename(store, "nope", "flowers")
    with pytest.raises(NotFound, match="no dataset named or numbered '99'"):
        datasets.rename(store, 99, "flowers")
    assert _dump(home) == before


def test_the_old_name_says_what_it_became_and_a_typo_lists_close_names(store: Store) -> None:
    _dataset(store, "demo", "imgs-v2-final")
    datasets.rename(store, "imgs-v2-final", "flowers")
    with pytest.raises(NotFound) as exc:
        datasets.get(store, "imgs-v2-final", "demo")
    assert str(exc.value) == ("no dataset named or numbered 'imgs-v2-final' in project 'demo'; see "
                              "`spark-trainer dataset list`; it was renamed to 'flowers'")
    with pytest.raises(NotFound, match="close names: 'flowers'$"):
        datasets.get(store, "flowrs")
    assert datasets.missing_hint(store, "imgs-v2-final", "demo") == "it was renamed to 'flowers'"
    assert datasets.missing_hint(store, "imgs-v2-final", "no-such-project") == ""
    assert datasets.missing_hint(store, "zzz") == ""
    # A new dataset may take the old name: then the name is that dataset's, and no hint is needed.
    fresh = _dataset(store, "demo", "imgs-v2-final")
    assert datasets.get(store, "imgs-v2-final").id == fresh.id


def test_an_id_or_name_of_another_project_is_not_found_in_this_one_and_says_where_it_is(store: Store) -> None:
    # Seen in a CLI walk: `exp create --project demo --dataset 2` took project p2's dataset 2, and
    # `exp show` then called it deleted (it lists the experiment's project's datasets).
    theirs = _dataset(store, "p2", "d2")
    _dataset(store, "demo", "train")
    with pytest.raises(NotFound) as exc:
        datasets.get(store, theirs.id, "demo")
    assert str(exc.value) == (f"no dataset named or numbered '{theirs.id}' in project 'demo'; see "
                              f"`spark-trainer dataset list`; dataset {theirs.id} ('d2') is in project 'p2'")
    with pytest.raises(NotFound, match="a dataset named 'd2' is in project 'p2' \\(id \\d+\\)$"):
        datasets.get(store, "d2", "demo")
    # A run file's project that its submit has not made yet holds nothing, but says where the dataset is.
    assert datasets.missing_hint(store, str(theirs.id), "not-made-yet") == f"dataset {theirs.id} ('d2') is in project 'p2'"
    with pytest.raises(NotFound, match=f"named or numbered '{theirs.id}' in project 'demo'"):
        experiments.create(store, project="demo", name="e", recipe="causal-lm", base_model="m", dataset=theirs.id,
                           config={})
    assert datasets.get(store, theirs.id).id == theirs.id  # with no project, an id is any project's
    with pytest.raises(NotFound, match="no dataset named or numbered '18446744073709551616'"):
        datasets.get(store, str(2**64))  # past SQLite's integers: no row (it overflowed the query)


def test_an_experiment_keeps_its_dataset_and_its_config_names_the_new_name(store: Store) -> None:
    made = _dataset(store, "demo", "imgs-v2-final")
    other = _dataset(store, "demo", "texts")
    by_name = experiments.create(store, project="demo", name="e1", recipe="causal-lm", base_model="m",
                                 dataset=made.id, config={"dataset": "imgs-v2-final", "name": "e1"})
    by_other = experiments.create(store, project="demo", name="e2", recipe="causal-lm", base_model="m",
                                  dataset=other.id, config={"dataset": "imgs-v2-final"})  # not this dataset's
    datasets.rename(store, made.id, "flowers")
    assert experiments.get(store, by_name.id).dataset_id == made.id
    assert experiments.get(store, by_name.id).config == {"dataset": "flowers", "name": "e1"}
    assert experiments.get(store, by_other.id).config == {"dataset": "imgs-v2-final"}


def test_a_forced_delete_leaves_its_name_on_the_experiments_that_used_it(store: Store) -> None:
    used = _dataset(store, "demo", "imgs-v2-final")
    datasets.rename(store, used.id, "flowers")
    other = _dataset(store, "demo", "texts")
    users = [experiments.create(store, project="demo", name=name, recipe="causal-lm", base_model="m",
                                dataset=used.id, config={}) for name in ("e1", "e2")]
    bystander = experiments.create(store, project="demo", name="e3", recipe="causal-lm", base_model="m",
                                   dataset=other.id, config={})
    with pytest.raises(datasets.DatasetInUse):
        datasets.delete(store, "flowers")  # in use: refused, nothing changes
    assert experiments.get(store, "e1").deleted_dataset is None

    datasets.delete(store, "flowers", force=True)
    for made in users:
        now = experiments.get(store, made.id)
        assert (now.dataset_id, now.deleted_dataset) == (None, "flowers")  # the name it had when deleted
        assert now.dataset_text({other.id: "texts"}) == "flowers (deleted)"
    kept = experiments.get(store, bystander.id)
    assert (kept.deleted_dataset, kept.dataset_text({other.id: "texts"})) == (None, "texts")
    with pytest.raises(BadInput, match="^experiment 'e1': its dataset 'flowers' was deleted; recreate it "
                                       "with --dataset$"):
        experiments.dataset_id_of(experiments.get(store, "e1"))
