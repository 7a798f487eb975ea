"""The recipes' warnings about a run's data (`RecipeSpec.data_advice`: most images smaller than the
training size...), for one config or a sweep's runs. They never refuse a run: `train`, `run start`,
`exp create` print them; the setup form shows them (its amber banner, and its Sweep box for a sweep)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store


def data_advice(store: Store, config: ExperimentConfig, dataset: Dataset, base_model: str) -> list[str]:
    """The recipe's warnings about training `config` on the stored `dataset` (`RecipeSpec.advice`), from
    the facts stored with the dataset; `base_model` is its folder ("" or a name: not looked at)."""
    from spark_trainer.recipes import get_recipe
    from spark_trainer.recipes.fit import dataset_facts

    model = Path(base_model) if base_model and Path(base_model).is_dir() else None
    said = get_recipe(config.recipe).advice(dataset_facts(store, dataset), config.recipe_config, model)
    return [said] if said else []


def sweep_advice(store: Store, combos: list[tuple[dict[str, Any], ExperimentConfig]], dataset: Dataset,
                 base_model: str) -> list[str]:
    """What `train --sweep` warns of before queuing the sweep's runs (`config.sweep.sweep_configs`'
    combinations) on `dataset`: each run's `data_advice`, once per distinct data settings, led by the
    values that run was given ("sweep recipe_config.resolution=512: ..."). The setup form's Sweep box
    shows the same lines."""
    return list(dict.fromkeys(w for said in runs_advice(store, combos, dataset, base_model) for w in said))


def runs_advice(store: Store, combos: list[tuple[dict[str, Any], ExperimentConfig]], dataset: Dataset,
                base_model: str) -> list[tuple[str, ...]]:
    """Each run's `swept_advice` (one tuple per combination, in order), worked out once per distinct data
    settings: the runs that share them get the lines of the first, led by its values."""
    checked: dict[str, tuple[str, ...]] = {}
    said = []
    for swept, config in combos:
        key = data_settings(config)
        if key not in checked:
            checked[key] = swept_advice(store, config, swept, dataset, base_model)
        said.append(checked[key])
    return said


def data_settings(config: ExperimentConfig) -> str:
    """The part of `config` the recipe's data checks and advice read (runs that share it are checked once)."""
    return json.dumps(config.model_dump(mode="json", include={"recipe_config", "eval"}), sort_keys=True)


def swept_advice(store: Store, config: ExperimentConfig, swept: dict[str, Any], dataset: Dataset,
                 base_model: str) -> tuple[str, ...]:
    """`data_advice` of one sweep run, each line led by the values it was given (none: as is)."""
    said = data_advice(store, config, dataset, base_model)
    named = ", ".join(f"{k}={v}" for k, v in swept.items())
    return tuple(f"sweep {named}: {w}" if swept else w for w in said)
