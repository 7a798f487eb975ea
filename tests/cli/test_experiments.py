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
