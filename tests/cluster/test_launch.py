"""`launch EXP` of an experiment stored by an older version: the job trains as `run start EXP` would."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import experiments, projects
from spark_trainer.store.store import Store
from tests.jobs.conftest import DEMO_DATA


def test_an_experiment_stored_before_bos_token_existed_is_launched_with_the_rule_it_had(
        cli, store: Store, model_dir: Path, tmp_path: Path) -> None:
    # Seen on a home written by 2bc2385: its experiment's job folder had no recipe_config.bos_token, so
    # the cluster's ranks (which read the file as a run file) would start rows as the tokenizer does,
    # while `run start` of the same experiment keeps 'always' (the recipe's frozen_defaults).
    projects.create(store, "old")
    dataset = ingest_paths(store, [DEMO_DATA], project="old", name="demo").dataset
    stored = {"name": "e", "project": "old", "recipe": "causal-lm", "base_model": str(model_dir),
              "dataset": str(dataset.id), "train": {"max_steps": 2, "seq_len": 40},
              "recipe_config": {"method": "lora"}}
    experiments.create(store, project="old", name="e", recipe="causal-lm", base_model=str(model_dir),
                       dataset=dataset.id, config=stored)
    out = tmp_path / "job"
    result = cli("launch", "e", "--nodes", 1, "--procs-per-node", 1, "--scheduler", "torchrun", "--out", out)
    assert result.code == 0, result.err
    recipe_config = yaml.safe_load((out / "config.yaml").read_text())["recipe_config"]
    assert recipe_config["bos_token"] == "always" and recipe_config["seq_len"] == 40


def test_an_experiment_naming_its_model_relative_to_the_data_home_is_launched_as_run_start_finds_it(
        cli, store: Store, tmp_path: Path) -> None:
    # Seen in a CLI walk: `run config` writes `base_model: models/<name>` (relative to the data home) and
    # `exp create --config` stores it so; `run start` finds it there, but `launch EXP` said "is not a local folder".
    model = store.home.root / "models" / "tiny"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    projects.create(store, "rel")
    dataset = ingest_paths(store, [DEMO_DATA], project="rel", name="demo").dataset
    experiments.create(store, project="rel", name="cloned", recipe="causal-lm", base_model="models/tiny",
                       dataset=dataset.id, config={"name": "cloned", "project": "rel", "recipe": "causal-lm",
                                                   "base_model": "models/tiny", "dataset": str(dataset.id)})
    out = tmp_path / "job"
    result = cli("launch", "cloned", "--nodes", 1, "--procs-per-node", 1, "--scheduler", "torchrun", "--out", out)
    assert result.code == 0, result.err
    assert (out / "model" / "config.json").is_file()
    assert json.loads((out / "job.json").read_text())["base_model"] == str(model)
