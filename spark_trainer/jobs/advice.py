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
    from spark_trainer.store.dataset_counts import current

    model = Path(base_model) if base_model and Path(base_model).is_dir() else None
    dataset = current(store, dataset)  # a manifest edited by hand since ingestion: its training items now
    said = get_recipe(config.recipe).advice(dataset_facts(store, dataset), config.recipe_config, model)
    return ([said] if said else []) + settings_advice(config, dataset.num_train)


def settings_advice(config: ExperimentConfig, train_items: int | None = None) -> list[str]:
    """Settings the run file gives that would take no effect, or not the one written (a run with
    warm-up longer than itself never reached its learning rate, unsaid): each a warning, the run queued
    all the same. `train_items`: the dataset's training items, where known."""
    t, ev = config.train, config.eval
    said = []
    if t.max_steps is not None and t.epochs is not None:
        said.append(f"train.epochs {t.epochs:g} is not used: train.max_steps {t.max_steps} sets the run's length")
    if t.max_steps is not None and t.warmup_steps > t.max_steps:
        last = t.learning_rate * t.max_steps / t.warmup_steps
        said.append(f"train.warmup_steps {t.warmup_steps} is more than train.max_steps {t.max_steps}: the run ends "
                    f"still warming up, its last step at learning rate {last:.3g}, not {t.learning_rate:g}")
    if t.early_stopping_patience is not None and ev.every_steps is None:
        said.append(f"train.early_stopping_patience {t.early_stopping_patience} waits for evaluations, and "
                    "eval.every_steps is empty: the run evaluates only at its end, so it never stops early")
    samples = next((k for k in ("sample_prompts", "sample_texts") if config.recipe_config.get(k)), None)
    if samples is not None and ev.samples_every_steps is None:
        said.append(f"recipe_config.{samples} are used every eval.samples_every_steps, which is empty: the run "
                    "logs no samples")
    step_items = t.batch_size * t.grad_accum
    if train_items and t.max_steps is None and t.epochs is not None and step_items > t.epochs * train_items:
        said.append(f"train.batch_size {t.batch_size} x grad_accum {t.grad_accum} = {step_items} items a step is "
                    f"more than train.epochs {t.epochs:g} of the dataset's {train_items} training items: the run "
                    f"takes one step, over {step_items / train_items:.1f} epochs")
    return said


def settings_differ(stored: dict[str, Any], config: ExperimentConfig, limit: int = 3) -> str:
    """The settings (train, eval, checkpoint, recipe_config) in which a run file differs from the stored
    experiment it adds a run to, as "train.batch_size 1000 there, 4 here"; "" when none do. Settings
    the stored config predates are not compared. `train FILE` with an experiment's name reused it, its
    stored settings unchanged, unsaid, so a later `run start` trained with the old ones."""
    new = config.model_dump(mode="json")
    differ = [f"{section}.{key} {old[key]!r} there, {value!r} here"
              for section in ("train", "eval", "checkpoint", "recipe_config")
              if isinstance(old := stored.get(section), dict)
              for key, value in (new.get(section) or {}).items() if key in old and old[key] != value]
    more = f", and {len(differ) - limit} more" if len(differ) > limit else ""
    return "; ".join(differ[:limit]) + more


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
    unused = unused_axes(combos)
    for swept, config in combos:
        key = data_settings(config, with_train=True)
        if key not in checked:
            checked[key] = swept_advice(store, config, swept, dataset, base_model)
        said.append(unused + checked[key])
    return said


def unused_axes(combos: list[tuple[dict[str, Any], ExperimentConfig]]) -> tuple[str, ...]:
    """A line for each swept setting that no run of the sweep uses (LoRA's rank swept with `method: full`):
    its runs differ in nothing they train with, and each costs a whole run."""
    from spark_trainer.recipes import get_recipe

    said = []
    for key in dict.fromkeys(k for swept, _ in combos for k in swept):
        section, _, name = key.partition(".")
        if section == "recipe_config" and all(name in get_recipe(c.recipe).unused_fields(c.recipe_config)
                                              for _, c in combos):
            said.append(f"sweep varies {key}, which recipe_config.method full does not use: runs that differ only "
                        "in it train alike")
    return tuple(said)


def data_settings(config: ExperimentConfig, *, with_train: bool = False) -> str:
    """The part of `config` the recipe's data checks read (runs that share it are checked once); the
    advice reads `train` too (`settings_advice`)."""
    sections = {"recipe_config", "eval", "train"} if with_train else {"recipe_config", "eval"}
    return json.dumps(config.model_dump(mode="json", include=sections), sort_keys=True)


def swept_advice(store: Store, config: ExperimentConfig, swept: dict[str, Any], dataset: Dataset,
                 base_model: str) -> tuple[str, ...]:
    """`data_advice` of one sweep run, each line led by the values it was given (none: as is)."""
    said = data_advice(store, config, dataset, base_model)
    named = ", ".join(f"{k}={v}" for k, v in swept.items())
    return tuple(f"sweep {named}: {w}" if swept else w for w in said)
