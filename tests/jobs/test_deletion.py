"""What a delete will remove, said before it is done (the CLI's question, the app's dialog)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import Conflict
from spark_trainer.jobs import deletion
from spark_trainer.store import experiments, exports, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def _stopped_run(store: Store, experiment_id: int, size: int) -> int:
    run = runs.create(store, experiment_id)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
    Path(run.run_dir, "checkpoints").mkdir(parents=True)
    Path(run.run_dir, "checkpoints", "model.safetensors").write_bytes(b"w" * size)
    return run.id


def test_an_experiment_plan_counts_its_runs_folders_exports_and_their_size(store: Store, experiment,
                                                                           tmp_path: Path) -> None:
    first = _stopped_run(store, experiment.id, 2**20)
    second = _stopped_run(store, experiment.id, 2**20)
    runs.create(store, experiment.id)  # queued, never started: deleted with it all the same
    made = store.home.export_dir(1)
    made.mkdir(parents=True)
    (made / "model.safetensors").write_bytes(b"w" * 2**20)
    exports.add(store, first, step=1, options={}, path=str(made))
    chosen = tmp_path / "mine"
    chosen.mkdir()
    exports.add(store, second, step=1, options={}, path=str(chosen))
    plan = deletion.plan_experiment(store, experiment.name)
    assert (len(plan.run_ids), len(plan.run_dirs), plan.export_dirs, plan.user_exports) == (
        3, 3, [str(made)], [str(chosen)])
    assert plan.size_bytes >= 3 * 2**20
    assert plan.question() == ("Delete experiment 'e' with 3 runs, their folders and 1 export folder "
                               "(3.0 MiB; 1 export folder you chose stays)?")
    assert plan.question(keep_files=True) == ("Delete experiment 'e' with 3 runs (folders stay on disk; "
                                              "1 export folder you chose stays)?")


def test_a_run_plan_is_worded_for_one_run_and_for_several(store: Store, experiment) -> None:
    one = _stopped_run(store, experiment.id, 2**20)
    two = _stopped_run(store, experiment.id, 2**20)
    assert deletion.plan_runs(store, [str(one)]).question() == f"Delete run {one} and its folder (1.0 MiB)?"
    assert deletion.plan_runs(store, [one, two]).question() == f"Delete runs {one}, {two} and their folders (2.0 MiB)?"
    empty = experiments.create(store, project="scheduled", name="empty", recipe="causal-lm", base_model="m",
                               dataset=None, config={})
    assert deletion.plan_experiment(store, empty.id).question() == "Delete experiment 'empty' (it has no runs)?"


def test_a_plan_refuses_what_the_delete_would_refuse(store: Store, experiment) -> None:
    run = runs.create(store, experiment.id)
    runs.transition(store, run.id, RunStatus.STARTING, "test")
    with pytest.raises(Conflict, match="in use by run .*, which is starting"):
        deletion.plan_experiment(store, experiment.id)


def test_only_folders_inside_the_homes_exports_folder_count_as_the_apps(store: Store, tmp_path: Path) -> None:
    home = store.home
    assert deletion.made_by_the_app(home, home.export_dir(3))
    assert deletion.made_by_the_app(home, home.exports_dir / "3-1")
    assert not deletion.made_by_the_app(home, home.exports_dir)
    assert not deletion.made_by_the_app(home, home.root / "my-export")  # a user's --out in the home, not exports/
    assert not deletion.made_by_the_app(home, tmp_path / "elsewhere")
