"""`exp create` refuses data the recipe cannot train on at once, with the same check `run start` runs."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import experiments, projects
from spark_trainer.store.store import Store


def _reviews(store: Store, tmp_path: Path) -> None:
    projects.create(store, "p")
    rows = tmp_path / "reviews.jsonl"
    rows.write_text("".join(json.dumps({"review": f"r {i}", "label": i % 2}) + "\n" for i in range(6)))
    ingest_paths(store, [rows], project="p", name="reviews")


def test_exp_create_refuses_a_dataset_without_the_recipes_text_column(cli, store: Store, tmp_path: Path) -> None:
    """It was accepted, and refused only later at `run start`."""
    _reviews(store, tmp_path)
    args = ["exp", "create", "--project", "p", "--recipe", "text-classification", "--dataset", "reviews",
            "--base-model", "x/y", "--name", "sentiment"]
    refused = cli(*args)
    assert refused.code == 2, refused.err
    assert refused.err.count("\n") == 1, refused.err
    # The setup form's reason for greying the dataset out, word for word.
    assert ("recipe text-classification cannot train on dataset 'reviews': its records have no 'text' field "
            "(recipe_config.text_column); fields: label, review") in refused.err
    assert experiments.list_all(store) == []

    made = cli(*args, "--set", "recipe_config.text_column=review")
    assert made.code == 0, made.err
    assert [e.name for e in experiments.list_all(store)] == ["sentiment"]


def test_exp_show_of_an_experiment_stored_before_bos_token_shows_the_rule_its_runs_get(
        cli, store: Store, tmp_path: Path) -> None:
    """An experiment stored by 2bc2385 has no recipe_config.bos_token; its runs get 'always' (the recipe's
    frozen_defaults), which `exp show` left out, so the config shown did not say how its runs start rows."""
    _reviews(store, tmp_path)
    stored = {"name": "old", "project": "p", "recipe": "causal-lm", "base_model": "x/y", "dataset": "1",
              "train": {"max_steps": 2, "seq_len": 40}, "recipe_config": {"method": "lora"}}
    experiments.create(store, project="p", name="old", recipe="causal-lm", base_model="x/y", dataset=1,
                       config=stored)
    shown = cli("exp", "show", "old")
    assert shown.code == 0, shown.err
    line = next(line for line in shown.out.splitlines() if line.strip().startswith("bos_token:"))
    assert line.strip().startswith("bos_token: always  # ")
    assert "kept for this experiment" in line
    as_json = cli("--json", "exp", "show", "old")
    assert json.loads(as_json.out)["config"]["recipe_config"]["bos_token"] == "always"


def test_exp_show_names_the_dataset_not_only_its_id(cli, store: Store, tmp_path: Path) -> None:
    # It printed "dataset id: 1": the machinery's id, where every other line names things for people.
    _reviews(store, tmp_path)
    experiments.create(store, project="p", name="named", recipe="text-classification", base_model="x/y",
                       dataset=1, config={"name": "named", "project": "p", "recipe": "text-classification",
                                          "base_model": "x/y", "dataset": "1", "train": {"max_steps": 2}})
    shown = cli("exp", "show", "named")
    assert shown.code == 0, shown.err
    assert any(line.split() == ["dataset", "reviews", "(id", "1)"] for line in shown.out.splitlines()), shown.out
    assert not any(line.startswith("dataset id") for line in shown.out.splitlines())
    assert json.loads(cli("--json", "exp", "show", "named").out)["dataset"] == "reviews"



def test_an_experiment_whose_dataset_was_deleted_keeps_its_name_in_show_start_and_leaderboard(
        cli, store: Store, tmp_path: Path) -> None:
    # `dataset delete --force` left its experiments with "dataset -" in `exp show` and the leaderboard, as
    # if they had never had one, and `run start` said the experiment "has no dataset".
    from spark_trainer.store import metrics, runs
    from spark_trainer.store.entities import RunStatus

    _reviews(store, tmp_path)
    exp = experiments.create(store, project="p", name="named", recipe="text-classification", base_model="x/y",
                             dataset=1, config={"name": "named", "project": "p", "recipe": "text-classification",
                                                "base_model": "x/y", "dataset": "1", "train": {"max_steps": 2}})
    run = runs.create(store, exp.id)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
    metrics.add_batch(store, run.id, [("eval_accuracy", 1, 0.75)])
    assert cli("dataset", "delete", "reviews", "--force").code == 0

    shown = cli("exp", "show", "named")
    assert any(line.split() == ["dataset", "reviews", "(deleted)"] for line in shown.out.splitlines()), shown.out
    data = json.loads(cli("--json", "exp", "show", "named").out)
    assert (data["dataset"], data["dataset_id"], data["deleted_dataset"]) == (None, None, "reviews")
    board = cli("leaderboard", "--recipe", "text-classification")
    assert board.out.splitlines()[2].split()[4:6] == ["reviews", "(deleted)"], board.out
    row = cli("--json", "leaderboard", "--recipe", "text-classification").json()["runs"][0]
    assert (row["dataset"], row["deleted_dataset"]) == (None, "reviews")
    started = cli("run", "start", "named")
    assert started.code == 2 and started.err == (
        "error: experiment 'named': its dataset 'reviews' was deleted; recreate it with --dataset\n")


RESOLUTION_WARNING = ("recipe_config.resolution 512 is larger than 6 of the dataset's 6 images (shorter side "
                      "typically 64 px): each is enlarged to 512 px, 64x its pixels, which slows every step and "
                      "adds no detail; try recipe_config.resolution: 64 (keep 512 if the enlargement is intended)")


def test_exp_create_warns_of_images_smaller_than_the_resolution(cli, store: Store, tmp_path: Path) -> None:
    """`train` and `run start` printed the recipe's data advice; `exp create` of the same config said nothing."""
    from spark_trainer.models.tiny_diffusion import write_captioned_images

    projects.create(store, "p")
    ingest_paths(store, [write_captioned_images(tmp_path / "frames", 6, size=64)], project="p", name="frames")
    model = tmp_path / "tiny-sd"
    model.mkdir()
    (model / "model_index.json").write_text("{}")
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):  # what the checks look at; no weights
        (model / part).mkdir()
    args = ["exp", "create", "--project", "p", "--recipe", "diffusion-lora", "--dataset", "frames",
            "--base-model", str(model)]
    made = cli(*args, "--name", "big")
    assert made.code == 0, made.err
    assert made.err.splitlines() == [f"warning: {RESOLUTION_WARNING}"], made.err
    shown = cli("--json", *args, "--name", "big-json")
    assert shown.code == 0, shown.err
    assert shown.json()["warnings"] == [RESOLUTION_WARNING] and shown.json()["name"] == "big-json"
    quiet = cli("--json", *args, "--name", "small", "--set", "recipe_config.resolution=64")
    assert quiet.code == 0 and quiet.err == "" and quiet.json()["warnings"] == [], quiet.err


def _experiment_with_run_folders(store: Store, name: str, count: int) -> list[Path]:
    from spark_trainer.store import runs

    exp = experiments.create(store, project="p", name=name, recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    folders = [Path(runs.create(store, exp.id).run_dir) for _ in range(count)]
    for folder in folders:
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        (folder / "worker.log").write_text("trained\n")
    return folders


def test_exp_delete_counts_the_run_folders_it_keeps_in_words(cli, store: Store) -> None:
    # docswalk saw "1 run folders kept on disk".
    projects.create(store, "p")
    for name, count in (("one", 1), ("two", 2)):
        _experiment_with_run_folders(store, name, count)
    assert cli("exp", "delete", "one", "--keep-files").out.strip() == "deleted experiment 'one'; 1 run folder kept on disk"
    assert cli("exp", "delete", "two", "--keep-files").out.strip() == "deleted experiment 'two'; 2 run folders kept on disk"


def test_exp_delete_removes_its_run_folders_as_run_delete_does_unless_keep_files(cli, store: Store) -> None:
    """`run delete` removes the run's folder unless --keep-files; `exp delete` kept every run's folder, and
    had no way to remove them. Another experiment's runs, records and folders are left alone."""
    from spark_trainer.store import runs

    projects.create(store, "p")
    gone = _experiment_with_run_folders(store, "gone", 2)
    kept = _experiment_with_run_folders(store, "kept", 1)
    other = _experiment_with_run_folders(store, "other", 2)
    deleted = cli("--json", "exp", "delete", "gone")
    assert deleted.code == 0, deleted.err
    assert sorted(deleted.json()["removed_folders"]) == sorted(map(str, gone))
    assert not any(folder.exists() for folder in gone)
    assert cli("exp", "delete", "kept", "--keep-files").code == 0
    assert all((folder / "worker.log").is_file() for folder in kept + other)
    assert [e.name for e in experiments.list_all(store)] == ["other"]
    assert sorted(Path(r.run_dir) for r in runs.list_all(store)) == sorted(other)


def test_an_empty_project_s_list_names_the_project(cli) -> None:
    assert cli("project", "create", "empty").code == 0
    assert cli("exp", "list", "--project", "empty").out.strip() == "no experiments in project 'empty' yet"


def test_exp_create_without_a_project_says_the_default_one_does_not_exist(cli, store: Store, tmp_path: Path) -> None:
    # Seen in a CLI walk: "no project named or numbered 'default'", a name the user never typed.
    _reviews(store, tmp_path)
    refused = cli("exp", "create", "--recipe", "text-classification", "--dataset", "reviews", "--base-model", "x/y",
                  "--name", "e")
    assert refused.code == 2 and refused.err.strip() == (
        "error: --project: not given, and the default project 'default' does not exist; name the project that "
        "holds the dataset")
    projects.create(store, "default")  # when it exists, its own datasets are looked for, as before
    other = cli("exp", "create", "--recipe", "text-classification", "--dataset", "reviews", "--base-model", "x/y",
                "--name", "e")
    assert other.code == 2 and "no dataset named or numbered 'reviews' in project 'default'" in other.err


def test_exp_create_reads_a_run_files_paths_as_train_does(cli, store: Store, tmp_path: Path, monkeypatch) -> None:
    """A model beside the run file was recorded as written ('mymodel'), so `run start` from another
    folder said it does not exist; a dataset file said only "no dataset named 'tickets.jsonl'"."""
    import yaml

    _reviews(store, tmp_path)
    folder = tmp_path / "sub"
    (folder / "mymodel").mkdir(parents=True)
    for name in ("config.json", "tokenizer_config.json"):  # what the check looks at; no weights
        (folder / "mymodel" / name).write_text("{}")
    (folder / "tickets.jsonl").write_text('{"text": "a", "label": "x"}\n')
    run_file = folder / "rel.yaml"
    settings = {"project": "p", "name": "rel", "recipe": "text-classification", "base_model": "mymodel",
                "dataset": "reviews", "recipe_config": {"text_column": "review"}}
    run_file.write_text(yaml.safe_dump(settings))
    monkeypatch.chdir(tmp_path)
    made = cli("exp", "create", "--config", run_file)
    assert made.code == 0, made.err
    assert experiments.get(store, "rel", "p").base_model == str((folder / "mymodel").resolve())

    run_file.write_text(yaml.safe_dump({**settings, "name": "rel2", "dataset": "tickets.jsonl"}))
    refused = cli("exp", "create", "--config", run_file)
    assert refused.code == 2 and refused.err.strip() == (
        "error: dataset: 'tickets.jsonl' is a path, and exp create takes an ingested dataset; ingest it first "
        f"(`spark-trainer dataset ingest {folder.resolve() / 'tickets.jsonl'} --project p`), or `spark-trainer "
        "train` the run file, which ingests it")
    # The data home's own models are kept by name: found from anywhere.
    (store.home.models_dir / "homemodel").mkdir(parents=True)
    for name in ("config.json", "tokenizer_config.json"):
        (store.home.models_dir / "homemodel" / name).write_text("{}")
    run_file.write_text(yaml.safe_dump({**settings, "name": "rel3", "base_model": "homemodel"}))
    assert cli("exp", "create", "--config", run_file).code == 0
    assert experiments.get(store, "rel3", "p").base_model == "homemodel"


def test_exp_show_names_the_datasets_its_runs_trained_on_when_not_its_own(cli, store: Store) -> None:
    """A run file whose data changed queues its run on the new ingestion (`d-2`) under the same experiment:
    `exp show` said only `d (id 1)`, while that run's frozen config names `d-2`."""
    from spark_trainer.store import datasets, runs
    from spark_trainer.store.datasets import NewDataset

    projects.create(store, "p")
    d, d2 = (datasets.create(store, "p", NewDataset(name=n, kind="text", path=f"/tmp/{n}", num_items=1))
             for n in ("d", "d-2"))
    exp = experiments.create(store, project="p", name="tc", recipe="causal-lm", base_model="m", dataset=d.id,
                             config={})
    first, second, third = (runs.create(store, exp.id, dataset_id=i) for i in (d.id, d2.id, d2.id))
    shown = cli("exp", "show", "tc")
    assert shown.code == 0, shown.err
    assert f"dataset             d (id {d.id})\nruns on other data  runs {second.id}, {third.id} on d-2 (id {d2.id})" \
        in shown.out, shown.out
    said = cli("--json", "exp", "show", "tc").json()["runs_on_other_data"]
    assert said == [{"dataset_id": d2.id, "dataset": "d-2", "deleted_dataset": None, "runs": [second.id, third.id]}]
    assert runs.get(store, first.id).dataset_id == d.id


def test_exp_show_names_a_deleted_dataset_its_runs_trained_on(cli, store: Store) -> None:
    """Once `d-2` was deleted the runs on it looked like the experiment's (both NULL): `exp show` said `d`."""
    from spark_trainer.store import datasets, runs
    from spark_trainer.store.datasets import NewDataset

    projects.create(store, "p")
    d, d2 = (datasets.create(store, "p", NewDataset(name=n, kind="text", path=f"/tmp/{n}", num_items=1))
             for n in ("d", "d-2"))
    exp = experiments.create(store, project="p", name="tc", recipe="causal-lm", base_model="m", dataset=d.id,
                             config={})
    run = runs.create(store, exp.id, dataset_id=d2.id)
    runs.transition(store, run.id, runs.RunStatus.CANCELLED, "test")
    datasets.delete(store, d2.id, force=True)
    assert f"runs on other data  run {run.id} on d-2 (deleted)" in cli("exp", "show", "tc").out
    datasets.delete(store, d.id, force=True)  # both deleted: told apart by their names
    shown = cli("exp", "show", "tc").out
    assert "dataset             d (deleted)" in shown and f"run {run.id} on d-2 (deleted)" in shown


def test_exp_list_names_each_experiments_dataset_as_open_experiment_does(cli, store: Store, tmp_path: Path) -> None:
    """docs/cli-parity.md gives `exp list` for the app's Open experiment… (Name, Recipe, Dataset, ...), but it
    printed no dataset: two experiments that differ in their data read alike."""
    _reviews(store, tmp_path)
    experiments.create(store, project="p", name="on-reviews", recipe="text-classification", base_model="x/y",
                       dataset=1, config={})
    experiments.create(store, project="p", name="no-data", recipe="causal-lm", base_model="x/y", dataset=None,
                       config={})
    listed = cli("exp", "list", "--project", "p")
    assert listed.code == 0, listed.err
    header, *rows = listed.out.splitlines()
    assert header.split()[:5] == ["ID", "PROJECT", "NAME", "RECIPE", "DATASET"]
    assert rows[0].split()[2:5] == ["on-reviews", "text-classification", "reviews"]
    assert rows[1].split()[2:5] == ["no-data", "causal-lm", "-"]
