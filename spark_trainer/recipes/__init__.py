"""Recipes: one module per recipe, each declaring a RecipeSpec. See registry.py."""

from __future__ import annotations

from spark_trainer.recipes.registry import (
    RecipeSpec,
    describe_fields,
    get_recipe,
    interval_text,
    list_recipes,
    registry,
)

__all__ = ["RecipeSpec", "describe_fields", "get_recipe", "interval_text", "list_recipes", "registry"]
