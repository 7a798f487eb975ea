"""Export ids, and so the default export folders `exports/<id>/`, are never reused."""

from __future__ import annotations

from spark_trainer.store import experiments, exports, projects, runs
from spark_trainer.store.store import Store


def _two_runs(store: Store) -> tuple[int, int]:
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    return runs.create(store, exp.id).id, runs.create(store, exp.id).id


def test_the_id_of_a_deleted_export_is_never_given_again(store: Store) -> None:
    """An export's record goes with its run. The next export was given its id, and with it its folder
    `exports/<id>` (removed by hand, or `exports/<id>-1` beside a kept one): a link to the old export, or
    a note naming it, then led to another model."""
    first, second = _two_runs(store)
    assert exports.next_id(store) == 1
    old = exports.add(store, first, step=10, options={}, path=str(store.home.export_dir(1)))
    assert old.id == 1 and exports.next_id(store) == 2
    runs.delete(store, first)  # the export's record goes with it
    assert exports.list_for(store, second) == []
    assert exports.next_id(store) == 2
    new = exports.add(store, second, step=20, options={}, path=str(store.home.export_dir(2)))
    assert new.id == 2 and exports.next_id(store) == 3
