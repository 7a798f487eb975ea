"""A sweep is the runs sharing its name: listed, looked up, and named without reusing a name."""

from __future__ import annotations

import pytest

from spark_trainer.errors import NotFound
from spark_trainer.store import experiments, projects, runs, sweeps
from spark_trainer.store.store import Store


def test_sweeps_are_listed_and_named_in_turn(store: Store) -> None:
    projects.create(store, "p")
    experiments.create(store, project="p", name="lr_test", recipe="causal-lm", base_model="m", dataset=None, config={})
    assert sweeps.list_all(store) == [] and sweeps.next_name(store, "lr_test") == "lr_test-sweep-1"
    for value in (1e-4, 1e-3):
        runs.create(store, "lr_test", sweep="lr_test-sweep-1", sweep_values={"train.learning_rate": value})
    runs.create(store, "lr_test")  # a run of its own belongs to no sweep
    runs.create(store, "lr_test", sweep="lr_test-sweep-3", sweep_values={"train.seed": 1})
    # "lr_test-sweep-1" is taken; "_" is a LIKE wildcard, so names are compared exactly too.
    assert sweeps.next_name(store, "lr_test") == "lr_test-sweep-2"
    assert sweeps.next_name(store, "lr-test") == "lr-test-sweep-1"
    # LIKE 'lr_tes_-sweep-%' matches lr_test's sweeps ('_' is any one character): none of them is lr_tes_'s.
    assert sweeps.next_name(store, "lr_tes_") == "lr_tes_-sweep-1"
    experiments.create(store, project="p", name="lrXtest", recipe="causal-lm", base_model="m", dataset=None, config={})
    runs.create(store, "lrXtest", sweep="lrXtest-sweep-1", sweep_values={"train.seed": 2})
    assert sweeps.next_name(store, "lr_test") == "lr_test-sweep-2" and sweeps.next_name(store, "lrXtest") == "lrXtest-sweep-2"
    assert [(s.name, s.experiment, s.recipe, s.num_runs) for s in sweeps.list_all(store)] == [
        ("lr_test-sweep-1", "lr_test", "causal-lm", 2), ("lr_test-sweep-3", "lr_test", "causal-lm", 1),
        ("lrXtest-sweep-1", "lrXtest", "causal-lm", 1)]
    sweeps.require(store, "lr_test-sweep-3")
    with pytest.raises(NotFound, match="no sweep named 'nope'; sweeps: lr_test-sweep-1, lr_test-sweep-3, lrXtest-sweep-1"):
        sweeps.require(store, "nope")
