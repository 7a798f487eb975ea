"""Submitting a run when its folder cannot be written (the runs folder on a full disk; a real tmpfs,
needs root): one line naming the place, and the run recorded failed with that line as its error. A run
file that names a dataset by a name it no longer has: one line giving the new name."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.tmpfs import fill, fill_when_run_is_written, tmpfs  # noqa: F401 - the fixture


def test_a_run_folder_on_a_full_disk_is_one_line_naming_it(store: Store, cli, run_file, tmpfs) -> None:  # noqa: F811
    full = tmpfs(store.home.runs_dir, 64 * 1024)
    fill(full)
    result = cli("train", run_file("full"))
    assert result.code == 1, result.err
    assert result.err.count("\n") == 1 and result.err.startswith(f"error: disk full at {full}"), result.err
    [run] = runs.list_all(store)
    assert run.status == RunStatus.FAILED and run.error == result.err.removeprefix("error: ").strip()
    assert not Path(run.run_dir).exists()  # nothing half-written: no run.json.tmp, no empty config.yaml


def test_a_run_folder_on_a_full_home_names_the_folder_not_the_database(home, cli, run_file, tmpfs,  # noqa: F811
                                                                        monkeypatch) -> None:
    """The database on the full disk too: recording the run failed was a database write that failed,
    and its error (naming the database) replaced the folder's. The folder's line is said; the run stays
    queued without a folder, which the scheduler fails in one line."""
    full = tmpfs(home, 32 * 2**20)
    fill_when_run_is_written(monkeypatch, full, 1)
    result = cli("train", run_file("full"))
    assert result.code == 1, result.err
    assert result.err.count("\n") == 1 and result.err.startswith(f"error: disk full at {full / 'runs'}:"), result.err
    assert not (full / "runs" / "1").exists()


def test_a_run_file_naming_a_renamed_dataset_says_the_new_name_and_run_config_writes_it(
        store: Store, cli, run_file, tmp_path: Path) -> None:
    import yaml

    from spark_trainer.store import datasets

    first = cli("train", run_file("first", steps=2))
    assert first.code == 0, first.err
    [dataset_id] = [d.id for d in datasets.list_all(store)]
    old = datasets.get(store, dataset_id).name
    datasets.rename(store, dataset_id, "flowers")
    stale = yaml.safe_load(run_file("second", steps=2).read_text()) | {"dataset": old}
    path = tmp_path / "stale.yaml"
    path.write_text(yaml.safe_dump(stale))
    refused = cli("train", path)
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert refused.err.startswith(f"error: dataset: {old!r} is neither a dataset in project 'jobs'")
    assert refused.err.rstrip().endswith("; it was renamed to 'flowers'")
    assert len(runs.list_all(store)) == 1  # nothing queued
    # The finished run's settings as a run file name the dataset as it is called now, and train on it.
    again = tmp_path / "again.yaml"
    assert cli("run", "config", "1", "--out", again).code == 0
    assert yaml.safe_load(again.read_text())["dataset"] == "flowers"
    queued = cli("--json", "train", again)
    assert queued.code == 0, queued.err
    assert [d.id for d in datasets.list_all(store)] == [dataset_id]  # the same dataset, not a new ingestion


def test_a_plain_file_is_split_as_each_run_file_asks(store: Store, cli, run_file) -> None:
    """A second run of a file with another eval.val_fraction reused the first ingestion and trained on
    its split, unsaid ("training 209 rows (31 validation)" for 0.1 and for 0.4)."""
    from spark_trainer.store import datasets

    for name, fraction in (("a", 0.1), ("b", 0.1), ("c", 0.4)):
        queued = cli("--json", "train", run_file(name, steps=1), "--set", f"eval.val_fraction={fraction}")
        assert queued.code == 0, queued.err
    made = datasets.list_all(store)
    assert [d.meta["options"]["val_fraction"] for d in made] == [0.1, 0.4]  # a's reused by b; c's its own
    assert made[1].num_val > made[0].num_val


def test_a_run_file_reusing_an_experiment_with_other_settings_says_so(store: Store, cli, run_file) -> None:
    """`train FILE --set train.batch_size=4` on an experiment made with 1000 trained with 4, and the
    experiment kept 1000 for `run start`, unsaid."""
    from spark_trainer.store import experiments

    assert cli("train", run_file("same", steps=1)).code == 0
    again = cli("train", run_file("same", steps=1))
    assert again.code == 0 and "warning" not in again.err, again.err
    other = cli("train", run_file("same", steps=2), "--set", "train.batch_size=2")
    assert other.code == 0, other.err
    assert ("warning: experiment 'same' already exists with other settings (train.max_steps 1 there, 2 here; "
            "train.batch_size 4 there, 2 here); this run trains with the file's, while `run start` of the experiment "
            "keeps its own") in other.err.splitlines()
    assert experiments.get(store, "same", "jobs").config["train"]["batch_size"] == 4


def test_a_plain_file_is_split_with_every_class_of_its_label_column_in_both(store: Store, tmp_path: Path) -> None:
    """`train` of a CSV whose classes are in `recipe_config.label_column: sentiment`: ingestion read the
    classes from a `label` field only, and the hash split held out no 'bad' and no 'meh' review."""
    import yaml

    from spark_trainer.config import load_config
    from spark_trainer.ingest import read_manifest
    from spark_trainer.jobs.submit import submit_config

    data = tmp_path / "reviews.csv"
    data.write_text("text,sentiment\n" + "".join(f"review number {i} of {c},{c}\n"
                                                 for c in ("good", "bad", "meh") for i in range(6)))
    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "tokenizer.json"):  # what submit looks at; no weights
        (model / name).write_text("{}")
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"project": "p", "name": "reviews", "recipe": "text-classification",
                                    "base_model": str(model), "dataset": str(data), "gpus": "cpu",
                                    "recipe_config": {"label_column": "sentiment"}}))
    queued = submit_config(store, load_config(path), base_dir=tmp_path, machine=[])
    rows = read_manifest(Path(queued.dataset.path))
    assert {c: {r["split"] for r in rows if r["record"]["sentiment"] == c} for c in ("good", "bad", "meh")} == {
        c: {"train", "val"} for c in ("good", "bad", "meh")}


def test_a_run_file_naming_another_projects_dataset_id_says_where_it_is(store: Store, cli, run_file,
                                                                        tmp_path: Path) -> None:
    # Seen in a night walk: `dataset: 1` with `project: night` (not made yet), dataset 1 being project
    # demo's, was refused with no hint, where `datasets.get` already said where it is.
    import yaml

    from spark_trainer.store import projects
    from tests.jobs.conftest import DEMO_DATA

    projects.create(store, "demo")
    ingested = cli("--json", "dataset", "ingest", DEMO_DATA, "--project", "demo", "--name", "d2")
    assert ingested.code == 0, ingested.err
    dataset_id = ingested.json()["dataset"]["id"]
    path = tmp_path / "night.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(run_file("n").read_text()) | {"project": "night",
                                                                                "dataset": dataset_id}))
    refused = cli("train", path)
    assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
    assert refused.err == (f"error: dataset: '{dataset_id}' is neither a dataset in project 'night' nor an existing "
                           f"path ({tmp_path / str(dataset_id)} does not exist); dataset {dataset_id} ('d2') is in "
                           "project 'demo'\n")
    assert runs.list_all(store) == [] and [p.name for p in projects.list_all(store)] == ["demo"]  # nothing made
