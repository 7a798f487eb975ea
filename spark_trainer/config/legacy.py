"""Run files and stored configs written before `train.seq_len` and `eval.sample_prompts` moved into
the recipes that use them (`recipe_config.seq_len`, `recipe_config.sample_prompts`, ...).

An old file keeps working: each old field is moved to where its recipe declares it now
(`RecipeSpec.moved_fields`), or dropped when the recipe never used it, and a one-line note says so.
The notes travel with the validated config (`ExperimentConfig.upgrade_notes`): the CLI prints them,
submit records them as events of the run, and the worker records them when it resumes a run
frozen in the old layout.

A stored config written before a recipe setting existed gets the value that keeps the behaviour it
had (`RecipeSpec.frozen_defaults`, see `with_frozen_defaults`), wherever it is read: resume, a new
run of the experiment, and a clone of the run.
"""

from __future__ import annotations

from typing import Any

# The fields that left the shared sections, as "section.key".
MOVED = ("train.seq_len", "eval.sample_prompts")


def _targets(recipe: Any) -> dict[str, str] | None:
    """The recipe's {old "section.key": new recipe_config key}; None for an unknown recipe."""
    from spark_trainer.errors import BadInput
    from spark_trainer.recipes import get_recipe

    if not isinstance(recipe, str):
        return None
    try:
        return dict(get_recipe(recipe).moved_fields)
    except BadInput:
        return None


def _has(data: dict[str, Any], section: str, key: str) -> bool:
    return isinstance(data.get(section), dict) and key in data[section]


def upgrade(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`data` with the old fields moved into `recipe_config` (a new mapping; `data` is not changed),
    and one note per field moved or dropped."""
    found = [old for old in MOVED if _has(data, *old.split("."))]
    if not found or not isinstance(data.get("recipe_config", {}), dict):
        return data, []  # nothing old here (or a recipe_config that validation will refuse anyway)
    targets = _targets(data.get("recipe"))
    upgraded = dict(data)
    recipe_config = dict(upgraded.get("recipe_config") or {})
    notes = []
    for old in found:
        section, key = old.split(".")
        upgraded[section] = {k: v for k, v in upgraded[section].items() if k != key}
        value = data[section][key]
        if targets is None:
            continue  # unknown recipe: validation names the recipe problem, not this one
        new = targets.get(old)
        if new is None:
            notes.append(f"{old} is not used by recipe {data['recipe']}; ignored (remove it from the run file)")
        elif new in recipe_config:
            notes.append(f"{old} is ignored: recipe_config.{new} is set, and {old} has moved there")
        else:
            recipe_config[new] = value
            notes.append(f"{old} has moved to recipe_config.{new}; read from the old place (move it there in the run file)")
    upgraded["recipe_config"] = recipe_config
    return upgraded, notes


def old_place(field: str, node: Any) -> str | None:
    """The old place ("train.seq_len") a run file wrote the moved `field` ("recipe_config.seq_len") at,
    when the file has it there and not at the new place; else None. `node`: the file's composed YAML.
    Each field kept its name when it moved."""
    for old in MOVED:
        section, key = old.split(".")
        if field == f"recipe_config.{key}" and _written(node, [section, key]) and not _written(node, ["recipe_config", key]):
            return old
    return None


def _written(node: Any, path: list[str]) -> bool:
    from spark_trainer.config.yaml_io import line_of

    line = line_of(node, path)  # the nearest parent's line when the last key is missing
    return line is not None and line != line_of(node, path[:-1])


def with_frozen_defaults(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`data` (a stored config: a run's config.yaml or an experiment's) with its recipe's
    `frozen_defaults` for the settings it predates (a new mapping; `data` is not changed), and a
    note for each."""
    from spark_trainer.errors import BadInput
    from spark_trainer.recipes import get_recipe

    written, recipe = data.get("recipe_config"), data.get("recipe")
    if not isinstance(written, dict) or not isinstance(recipe, str):
        return data, []  # validation names what is wrong with it
    try:
        defaults = get_recipe(recipe).frozen_defaults
    except BadInput:  # an unknown recipe: validation names it
        return data, []
    added = {key: value for key, value in defaults if key not in written}
    # Said of a run queued or paused across the upgrade and of a new run of an experiment saved
    # before it alike: both were written without the setting.
    notes = [f"recipe_config.{key}: {value} (the run's config was written before this setting existed, "
             "so it keeps the behaviour it had)" for key, value in added.items()]
    return ({**data, "recipe_config": {**written, **added}} if added else data), notes
