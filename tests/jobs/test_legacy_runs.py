"""Runs and experiments from before `train.seq_len` / `eval.sample_prompts` moved into recipe_config:
an old run file, an old stored experiment and an old frozen run all keep working, in the current
layout from then on, and the move is said once (a `note:` line, an event of the run)."""

from __future__ import annotations

from pathlib import Path

import yaml

from spark_trainer.config import load_config
from spark_trainer.ingest import ingest_paths
from spark_trainer.jobs.submit import (
    CONFIG_NAME,
    frozen_config,
    submit_config,
    submit_experiment,
    upgrade_frozen_config,
)
from spark_trainer.store import datasets, experiments, projects, runs
from tests.jobs.conftest import DEMO_DATA

MOVED = "config: train.seq_len has moved to recipe_config.seq_len; read from the old place (move it there in the run file)"


def _old_layout(run_file: Path) -> Path:
    data = yaml.safe_load(run_file.read_text())
    data["train"]["seq_len"] = data["recipe_config"].pop("seq_len")
    data["eval"]["sample_prompts"] = ["Count up from 3:"]
    run_file.write_text(yaml.safe_dump(data))
    return run_file


def _events(store, run_id: int) -> list[str]:
    return [e.reason for e in runs.events(store, run_id)]


def test_an_old_run_file_is_submitted_in_the_new_layout_and_the_run_records_the_move(store, run_file, tmp_path):
    path = _old_layout(run_file("old", seq_len=48))
    run = submit_config(store, load_config(path), base_dir=tmp_path, gpus="cpu", machine=[]).run
    frozen = yaml.safe_load((Path(run.run_dir) / CONFIG_NAME).read_text())
    assert frozen["recipe_config"]["seq_len"] == 48 and frozen["recipe_config"]["sample_prompts"] == ["Count up from 3:"]
    assert "seq_len" not in frozen["train"] and "sample_prompts" not in frozen["eval"]
    assert MOVED in _events(store, run.id)
    assert any(r.startswith("config: eval.sample_prompts has moved to recipe_config.sample_prompts") for r in _events(store, run.id))

    # A run queued (or paused) before the move: its frozen file is in the old layout. The worker
    # rewrites it once, recording the move, and trains with the value the file had.
    _old_layout(Path(run.run_dir) / CONFIG_NAME)
    assert frozen_config(Path(run.run_dir)).recipe_config["seq_len"] == 48
    before = len(_events(store, run.id))
    notes = upgrade_frozen_config(store, run.id, Path(run.run_dir))
    assert len(notes) == 2 and len(_events(store, run.id)) == before + 2
    assert "seq_len" not in yaml.safe_load((Path(run.run_dir) / CONFIG_NAME).read_text())["train"]
    assert upgrade_frozen_config(store, run.id, Path(run.run_dir)) == []  # said once


def test_an_old_stored_experiment_starts_with_its_fields_moved_and_its_model_frozen(store, tiny_model):
    projects.create(store, "old")
    ds = ingest_paths(store, [DEMO_DATA], project="old", name="demo").dataset
    stored = {"name": "e", "project": "old", "recipe": "causal-lm", "base_model": str(tiny_model), "dataset": str(ds.id),
              "train": {"max_steps": 2, "seq_len": 40}, "eval": {"sample_prompts": ["hi"]},
              "recipe_config": {"method": "lora"}}
    experiments.create(store, project="old", name="e", recipe="causal-lm", base_model=str(tiny_model), dataset=ds.id,
                       config=stored)
    run = submit_experiment(store, "e", gpus="cpu", machine=[]).run
    frozen = frozen_config(Path(run.run_dir))
    assert frozen.recipe_config["seq_len"] == 40 and frozen.recipe_config["sample_prompts"] == ["hi"]
    assert frozen.base_model == str(tiny_model.resolve()) and frozen.upgrade_notes == []
    assert "config: train.seq_len has moved to recipe_config.seq_len" in " ".join(_events(store, run.id))


def test_train_and_exp_create_print_one_note_per_moved_field(store, cli, run_file):
    path = _old_layout(run_file("old-cli"))
    projects.create(store, "jobs")
    ingest_paths(store, [DEMO_DATA], project="jobs", name="demo")
    made = cli("exp", "create", "--config", str(path), "--dataset", "demo", "--name", "from-old")
    assert made.code == 0, made.err
    assert made.err.splitlines() == [
        f"note: {path}: train.seq_len has moved to recipe_config.seq_len; read from the old place (move it there in "
        "the run file)",
        f"note: {path}: eval.sample_prompts has moved to recipe_config.sample_prompts; read from the old place (move "
        "it there in the run file)",
        # and, as for any run file, that no sample is made without a cadence to make them at
        "warning: recipe_config.sample_prompts are used every eval.samples_every_steps, which is empty: the run logs "
        "no samples"]
    stored = experiments.get(store, "from-old").config
    assert stored["recipe_config"]["seq_len"] == 64 and "seq_len" not in stored["train"]


def test_a_run_frozen_before_bos_token_existed_keeps_starting_rows_with_bos(store, run_file, tmp_path):
    # Rows used to start with BOS whatever the tokenizer does; new runs follow the tokenizer. A run
    # queued or paused across that change must resume encoding its rows as it began.
    run = submit_config(store, load_config(run_file("bos")), base_dir=tmp_path, gpus="cpu", machine=[]).run
    path = Path(run.run_dir) / CONFIG_NAME
    assert yaml.safe_load(path.read_text())["recipe_config"]["bos_token"] == "tokenizer"  # a new run
    data = yaml.safe_load(path.read_text())
    del data["recipe_config"]["bos_token"]
    path.write_text(yaml.safe_dump(data))  # as a run frozen before the setting
    assert frozen_config(Path(run.run_dir)).recipe_config["bos_token"] == "always"
    notes = upgrade_frozen_config(store, run.id, Path(run.run_dir))
    assert notes == ["recipe_config.bos_token: always (the run's config was written before this setting existed, "
                     "so it keeps the behaviour it had)"]
    assert "config: " + notes[0] in _events(store, run.id)
    assert yaml.safe_load(path.read_text())["recipe_config"]["bos_token"] == "always"
    assert upgrade_frozen_config(store, run.id, Path(run.run_dir)) == []  # written down, said once


def test_a_clone_of_a_run_frozen_before_bos_token_existed_trains_as_that_run_did(store, cli, run_file, tmp_path):
    # Seen on a home written by an older version: `run config 1` (the app's Clone) wrote
    # `bos_token: tokenizer`, so the copy trained on other tokens (loss 6.2548 at step 1, not the old
    # run's 6.2684); resume and `run start` of the old experiment kept `always`.
    from spark_trainer.leaderboard import run_config

    run = submit_config(store, load_config(run_file("bos-clone")), base_dir=tmp_path, gpus="cpu", machine=[]).run
    path = Path(run.run_dir) / CONFIG_NAME
    data = yaml.safe_load(path.read_text())
    del data["recipe_config"]["bos_token"]
    path.write_text(yaml.safe_dump(data))  # as a run frozen before the setting
    assert run_config(store, run)["recipe_config"]["bos_token"] == "always"  # Clone, compare
    cloned = cli("run", "config", run.id)
    assert cloned.code == 0, cloned.err
    assert yaml.safe_load(cloned.out)["recipe_config"]["bos_token"] == "always"

    path.unlink()  # a run without its frozen file: its experiment's stored config, also from before
    from spark_trainer.store.models import ExperimentRow

    with store.write() as session:
        row = session.get(ExperimentRow, run.experiment_id)
        row.config = {**row.config, "recipe_config": {k: v for k, v in row.config["recipe_config"].items()
                                                      if k != "bos_token"}}
    assert run_config(store, run)["recipe_config"]["bos_token"] == "always"


def test_a_run_frozen_before_format_existed_keeps_reading_each_row_by_its_own_fields(store, cli, run_file, tmp_path):
    """`recipe_config.format` decides a dataset's row format once (auto); runs before it read each row by
    its own fields. Such a run resumes, and is cloned, as `mixed`, with the token cache key it had."""
    from spark_trainer.leaderboard import run_config
    from spark_trainer.recipes import token_cache
    from spark_trainer.recipes.causal_lm_impl import ENCODING_FIELDS, CausalLMRecipe

    run = submit_config(store, load_config(run_file("fmt")), base_dir=tmp_path, gpus="cpu", machine=[]).run
    path = Path(run.run_dir) / CONFIG_NAME
    data = yaml.safe_load(path.read_text())
    assert data["recipe_config"]["format"] == "prompt-completion"  # a new run: found in its data, frozen
    del data["recipe_config"]["format"]
    path.write_text(yaml.safe_dump(data))  # as a run frozen before the setting
    old = frozen_config(Path(run.run_dir))
    assert old.recipe_config["format"] == "mixed"
    assert run_config(store, run)["recipe_config"]["format"] == "mixed"  # Clone, compare
    cloned = cli("run", "config", run.id)
    assert cloned.code == 0, cloned.err
    assert yaml.safe_load(cloned.out)["recipe_config"]["format"] == "mixed"
    notes = upgrade_frozen_config(store, run.id, Path(run.run_dir))  # what the worker does on resume
    assert notes == ["recipe_config.format: mixed (the run's config was written before this setting existed, "
                     "so it keeps the behaviour it had)"]

    # The rows it trains on are encoded as before, and cached under the key a run of then had (no format in it).
    recipe = CausalLMRecipe(old)
    dataset = Path(datasets.get(store, old.dataset).path)
    recipe.prepare(dataset)
    assert recipe.format == "mixed" and recipe.train_data
    before = {"recipe": "causal-lm", **recipe.rc.model_dump(include=set(ENCODING_FIELDS))}
    assert token_cache.load(dataset, token_cache.key(dataset, recipe.model_dir, before)) is not None
