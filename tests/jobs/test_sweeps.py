"""Sweeps: every combination is checked before any run is queued, and results rank by the recipe's
main metric in its declared direction."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spark_trainer.config.sweep import parse_axis
from spark_trainer.errors import BadInput
from spark_trainer.jobs.sweeps import queue_sweep, sweep_result
from spark_trainer.store import datasets, experiments, metrics, projects, runs, sweeps
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.recipes.helpers import write_jsonl
from tests.tmpfs import fill_when_run_is_written, free, tmpfs  # noqa: F401 - the fixture


def _tickets_file(tmp_path: Path) -> dict:
    """A text-classification run file on two classes; its model folder holds only what submit reads."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "tokenizer_config.json").write_text("{}")
    # Five rows a class: one row of each, five times, was two after de-duplication, one held out,
    # so one class was in validation only (refused at submit).
    rows = write_jsonl(tmp_path / "tickets.jsonl", [{"text": label, "label": label, "n": i} for label in "xy" for i in range(5)])
    return {"project": "p", "name": "tickets", "recipe": "text-classification", "base_model": str(model),
            "dataset": str(rows), "gpus": "cpu", "train": {"max_steps": 2}}


def test_one_combination_the_data_cannot_train_queues_none(store: Store, tmp_path: Path) -> None:
    # `label` passes the recipe's data check; `target` (no such column) fails it: nothing is queued,
    # and the dataset ingested on the way is forgotten with its project.
    data = _tickets_file(tmp_path)
    with pytest.raises(BadInput) as caught:
        queue_sweep(store, data, [parse_axis("recipe_config.label_column=label,target")], machine=[])
    assert str(caught.value).startswith("sweep recipe_config.label_column=target: dataset: recipe "
                                        "text-classification cannot train on dataset 'tickets'")
    assert runs.list_all(store) == [] and datasets.list_all(store) == [] and projects.list_all(store) == []


def test_a_model_the_recipe_cannot_use_is_not_blamed_on_a_value(store: Store, tmp_path: Path) -> None:
    data = _tickets_file(tmp_path)
    (Path(data["base_model"]) / "tokenizer_config.json").unlink()
    with pytest.raises(BadInput, match="^base_model: recipe text-classification cannot start from .* no tokenizer"):
        queue_sweep(store, data, [parse_axis("train.seed=1,2")], machine=[])
    assert runs.list_all(store) == []


def test_queued_runs_carry_the_sweep_and_rank_by_the_main_metric(store: Store, tmp_path: Path) -> None:
    data = _tickets_file(tmp_path)
    queued = queue_sweep(store, data, [parse_axis("train.learning_rate=1e-4,1e-3,1e-2")], machine=[])
    assert queued.name == "tickets-sweep-1"
    first, second, third = (r.id for r in queued.runs)
    assert [r.sweep_values for r in runs.list_all(store, sweep="tickets-sweep-1")] == [
        {"train.learning_rate": 1e-4}, {"train.learning_rate": 1e-3}, {"train.learning_rate": 1e-2}]
    assert len(experiments.list_all(store)) == 1  # one experiment, one run per value
    from spark_trainer.jobs.submit import frozen_config

    assert frozen_config(Path(runs.get(store, third).run_dir)).train.learning_rate == 1e-2

    # text-classification's main metric is eval_accuracy: higher is better, whatever eval_loss says.
    metrics.add_batch(store, first, [("eval_accuracy", 2, 0.9), ("eval_loss", 2, 0.1)])
    metrics.add_batch(store, second, [("eval_accuracy", 1, 0.99), ("eval_accuracy", 2, 0.5), ("eval_loss", 2, 0.01)])
    result = sweep_result(store, "tickets-sweep-1")
    assert (result.metric, result.higher_is_better, result.keys) == ("eval_accuracy", True, ["train.learning_rate"])
    assert [(row.rank, row.run.id, row.final) for row in result.rows] == [
        (1, first, 0.9), (2, second, 0.5), (None, third, None)]  # the final value, not the best one

    again = queue_sweep(store, data, [parse_axis("train.seed=1,2")], machine=[])
    assert again.name == "tickets-sweep-2"
    with pytest.raises(BadInput, match="sweep name 'tickets-sweep-2' is taken"):
        queue_sweep(store, data, [parse_axis("train.seed=3,4")], name="tickets-sweep-2", machine=[])
    assert len(runs.list_all(store)) == 5
    assert all(r.status == RunStatus.QUEUED for r in runs.list_all(store))


def test_the_data_is_checked_once_per_distinct_recipe_setting(store: Store, tmp_path: Path, monkeypatch) -> None:
    """The recipe's data check reads the whole dataset; a learning-rate sweep read it once per run,
    under the submit lock. It depends only on recipe_config and eval: once per distinct pair now."""
    from spark_trainer.recipes.registry import RecipeSpec

    reads: list[str] = []
    real = RecipeSpec.check_data

    def counted(self, config, data_path, *what):
        reads.append(dict(config.recipe_config).get("label_column", "label"))
        return real(self, config, data_path, *what)

    monkeypatch.setattr(RecipeSpec, "check_data", counted)
    data = _tickets_file(tmp_path)
    queued = queue_sweep(store, data, [parse_axis("train.learning_rate=1e-4,1e-3,1e-2,1e-1")], machine=[])
    assert len(queued.runs) == 4 and reads == ["label"]
    reads.clear()
    data["recipe_config"] = {"text_column": "text"}
    queue_sweep(store, data, [parse_axis("train.seed=1,2"), parse_axis("recipe_config.label_column=label,text")],
                machine=[])
    assert sorted(reads) == ["label", "text"]  # two seeds x two columns: the data read twice, not four times


def test_every_run_of_a_sweep_trains_the_row_format_the_data_decided(store: Store, tmp_path: Path) -> None:
    # `train examples/tiny-lora.yaml --sweep train.learning_rate=1e-4,3e-4`: run 10's config.yaml said
    # `format: prompt-completion`, run 11's `format: auto` (compare showed it as a setting that differs).
    # The runs after the first reuse the first one's data check, and lost what it decided.
    from spark_trainer.jobs.submit import frozen_config

    data = _tickets_file(tmp_path)
    rows = write_jsonl(tmp_path / "qa.jsonl", [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(8)])
    data.update(recipe="causal-lm", name="qa", dataset=str(rows))
    queued = queue_sweep(store, data, [parse_axis("train.learning_rate=1e-4,3e-4,1e-3")], machine=[])
    formats = [frozen_config(Path(run.run_dir)).recipe_config["format"] for run in queued.runs]
    assert formats == ["prompt-completion"] * 3


def test_a_sweep_whose_queueing_fails_midway_leaves_no_run_queued(store: Store, tmp_path: Path) -> None:
    """A sweep of 3 whose 2nd run could not be made (its folder taken by a deleted run's kept files; a full
    disk writing its config.yaml is the same path) left the 1st run queued in a 1-run sweep: it trained
    while the error said 'submit again', and the retry queued a second sweep beside it. The runs this
    sweep had queued are now removed, rows and folders, before the error is raised."""
    data = _tickets_file(tmp_path)
    store.home.runs_dir.mkdir(parents=True, exist_ok=True)
    blocker = store.home.run_dir(2)
    blocker.write_text("kept files of a deleted run")
    with pytest.raises(BadInput, match=r"^run folder .*2 already exists but belongs to no run"):
        queue_sweep(store, data, [parse_axis("train.learning_rate=1e-4,2e-4,3e-4")], machine=[])
    assert runs.list_all(store) == [] and sorted(p.name for p in store.home.runs_dir.iterdir()) == ["2"]
    assert blocker.read_text() == "kept files of a deleted run"
    assert runs.list_all(store, sweep="tickets-sweep-1") == []
    assert sweeps.plan(store, "tickets-sweep-1") is None  # no plan without its runs
    blocker.unlink()
    retried = queue_sweep(store, data, [parse_axis("train.learning_rate=1e-4,2e-4,3e-4")], machine=[])
    assert len(retried.runs) == 3 and {r.status for r in runs.list_all(store)} == {RunStatus.QUEUED}



def test_a_sweep_records_its_plan_and_deleted_runs_are_read_from_it(store: Store, tmp_path: Path) -> None:
    """`sweep show` inferred deleted runs from id gaps and the values runs left still had: a 2x2 sweep
    with its 2nd and 4th runs deleted (both seed 2) counted 1, and named no combination."""
    data = _tickets_file(tmp_path)
    queued = queue_sweep(store, data, [parse_axis("train.learning_rate=1e-4,1e-3"), parse_axis("train.seed=1,2")],
                         machine=[])
    plan = [{"train.learning_rate": lr, "train.seed": seed} for lr in (1e-4, 1e-3) for seed in (1, 2)]
    assert sweeps.plan(store, queued.name) == plan == [r.sweep_values for r in queued.runs]
    for run in queued.runs[1::2]:
        runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
        runs.delete(store, run.id)
    result = sweep_result(store, queued.name)
    assert (result.queued, result.deleted, result.counted) == (4, 2, True)
    assert result.missing == [plan[1], plan[3]]
    # Every run deleted frees the name; a new sweep of that name gets its own plan.
    for run in queued.runs[::2]:
        runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
        runs.delete(store, run.id)
    again = queue_sweep(store, data, [parse_axis("train.seed=7,8,9")], name=queued.name, machine=[])
    assert sweeps.plan(store, again.name) == [{"train.seed": 7}, {"train.seed": 8}, {"train.seed": 9}]
    assert (sweep_result(store, again.name).queued, sweep_result(store, again.name).deleted) == (3, 0)


def test_a_sweep_whose_third_run_folder_cannot_be_written_is_queued_not_at_all(
        home: Path, tmp_path: Path, cli, monkeypatch, tmpfs) -> None:  # noqa: F811
    """The data home (database and runs) on a disk that fills up as the 3rd of 3 runs writes its files.
    The undo then failed too (deleting rows is a database write): all 3 runs stayed queued, the 3rd
    without a folder, and the error named the database, not the run folder. Now the runs are made in
    one transaction whose rollback needs no space: nothing is queued, and the line names the place."""
    full = tmpfs(home, 32 * 2**20)
    fill_when_run_is_written(monkeypatch, full, 3)
    data = _tickets_file(tmp_path)
    run_yaml = tmp_path / "tickets.yaml"
    run_yaml.write_text(yaml.safe_dump(data))
    result = cli("train", run_yaml, "--sweep", "train.learning_rate=1e-4,2e-4,3e-4")
    assert result.code == 1, result.err
    assert result.err.count("\n") == 1 and result.err.startswith(f"error: disk full at {full / 'runs'}:"), result.err
    free(full)
    with Store.open(home) as store:
        assert runs.list_all(store) == []
        assert list(store.home.runs_dir.iterdir()) == []  # no folder left behind
        assert sweeps.plan(store, "tickets-sweep-1") is None
        retried = queue_sweep(store, data, [parse_axis("train.seed=1,2,3")], machine=[])
        assert [r.status for r in retried.runs] == [RunStatus.QUEUED] * 3


def test_a_sweep_name_typed_with_its_accents_composed_or_not_is_one_sweep(store: Store, tmp_path: Path) -> None:
    """Names are compared in NFC, as projects' are: 'café' typed as e + U+0301 (a macOS file name, a paste)
    was stored as typed, so `sweep show café` (composed) found no sweep and a second sweep took the name."""
    data = _tickets_file(tmp_path)
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    queued = queue_sweep(store, data, [parse_axis("train.seed=1,2")], name=decomposed, machine=[])
    assert queued.name == composed
    assert [r.sweep for r in runs.list_all(store, sweep=decomposed)] == [composed, composed]
    assert sweep_result(store, composed).queued == 2 and sweeps.plan(store, decomposed) == [
        {"train.seed": 1}, {"train.seed": 2}]
    with pytest.raises(BadInput, match="is taken"):
        queue_sweep(store, data, [parse_axis("train.seed=3,4")], name=composed, machine=[])
