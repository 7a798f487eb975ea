"""`recipes [NAME]`: list recipes, or one recipe's config fields with defaults and ranges."""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.recipes import describe_fields, get_recipe, interval_text, list_recipes


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("recipes", help="list recipes, or one recipe's config fields", parents=[common])
    parser.add_argument("name", nargs="?", help="a recipe name, to list its config fields")
    parser.set_defaults(handler=cmd_recipes)


def _allowed(field: dict) -> str:
    if "choices" in field:
        return " | ".join(str(c) for c in field["choices"])
    return interval_text(field) or "-"


def cmd_recipes(ctx: Context, args: argparse.Namespace) -> Result:
    if not args.name:
        specs = list_recipes()
        data = [{"name": s.name, "title": s.title, "description": s.description, "data_kinds": list(s.data_kinds)}
                for s in specs]
        rows = [(s.name, ",".join(s.data_kinds), s.description) for s in specs]
        return Result(data, table(["name", "data", "description"], rows))
    spec = get_recipe(args.name)
    described = describe_fields(spec.config_model)
    rows = [(f["name"], f["type"], f["default"], _allowed(f), f["help"]) for f in described]
    text = f"{spec.name}: {spec.description}\n\nrecipe_config fields:\n" + table(
        ["field", "type", "default", "allowed", "help"], rows)
    return Result({"name": spec.name, "title": spec.title, "description": spec.description,
                   "data_kinds": list(spec.data_kinds), "fields": described}, text)
