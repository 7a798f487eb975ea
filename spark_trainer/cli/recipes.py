"""`recipes [NAME]`: list recipes, or one recipe's config fields with defaults and ranges."""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.cli.verbs import strip_verb
from spark_trainer.recipes import describe_fields, get_recipe, interval_text, list_recipes


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("recipes", help="list recipes, or one recipe's config fields", parents=[common],
                            usage="%(prog)s [-h] [--home DIR] [--json] [--debug] [list | [show] NAME]")
    parser.add_argument("words", nargs="*", metavar="list | [show] NAME",
                        help="nothing (or list) for every recipe; a recipe's name (or show NAME) for its config fields")
    parser.set_defaults(handler=cmd_recipes)


# A choice list longer than this is written under the table: in its column it pushed every field's help
# off the screen (causal-lm's `format` has ten choices, 150 characters).
ALLOWED_WIDTH = 40


def _choices(field: dict) -> str:
    return " | ".join(str(c) for c in field.get("choices", ()))


def _allowed(field: dict) -> str:
    if "choices" in field:
        text = _choices(field)
        return text if len(text) <= ALLOWED_WIDTH else "see below"
    return interval_text(field) or "-"


def cmd_recipes(ctx: Context, args: argparse.Namespace) -> Result:
    words = strip_verb("recipes", args.words, {"list": 0, "show": 1}, 1, "recipes [list | [show] NAME]")
    name = words[0] if words else None
    if not name:
        specs = list_recipes()
        data = [{"name": s.name, "title": s.title, "description": s.description, "data_kinds": list(s.data_kinds)}
                for s in specs]
        rows = [(s.name, ",".join(s.data_kinds), s.description) for s in specs]
        return Result(data, table(["name", "data", "description"], rows))
    spec = get_recipe(name)
    described = describe_fields(spec.config_model)
    rows = [(f["name"], f["type"], f["default"], _allowed(f), f["help"]) for f in described]
    text = f"{spec.name}: {spec.description}\n\nrecipe_config fields:\n" + table(
        ["field", "type", "default", "allowed", "help"], rows)
    long = [f"{f['name']}: {_choices(f)}" for f in described if _allowed(f) == "see below"]
    if long:
        text += "\n\nallowed:\n" + "\n".join(f"  {line}" for line in long)
    return Result({"name": spec.name, "title": spec.title, "description": spec.description,
                   "data_kinds": list(spec.data_kinds), "fields": described}, text)
