"""`recipe_config.target_modules`, read one way for every recipe and checked against the model.

peft adapts every module whose name ends with any listed name, so it needs only one of them to
match: `query,nope` trained the `query` layers and dropped `nope` unsaid, and a list naming nothing
ended in peft's own traceback. Each name must match a module of the model, or the run is refused
(before it is queued, from the model's config: `target_precheck`; and in its worker, once the model is
built, before the first step) naming it and the names there are.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator

from spark_trainer.errors import ConfigError

ALL_LINEAR = "all-linear"
FIELD = "recipe_config.target_modules"
_ADAPTABLE = ("Linear", "Conv1d", "Conv2d", "Conv1D", "Embedding")  # what LoRA adapts (Conv1D: GPT-2's)


def parse(value: str | Sequence[str]) -> str | list[str]:
    """`all-linear`, or the module names of a comma-separated string or a list (blanks left out)."""
    if isinstance(value, str):
        if value.strip() == ALL_LINEAR:
            return ALL_LINEAR
        value = value.split(",")
    return [name.strip() for name in value if name.strip()]


def _named(value: str | list[str]) -> str | list[str]:
    if parse(value) == []:
        raise ValueError("names no module; give all-linear or module names, like q_proj,v_proj")
    return value


# The field's type in each recipe's settings: an empty name list is refused with the file's line.
TargetModules = Annotated[str | list[str], AfterValidator(_named)]


def check(model: Any, targets: str | list[str]) -> None:
    """ConfigError for a listed name that matches no module of `model` (as peft matches: the whole
    name, or its last dotted parts), naming close names and the kinds of layer the model has."""
    if targets != ALL_LINEAR:
        check_names([(name, type(module).__name__) for name, module in model.named_modules()], targets)


def check_names(modules: Sequence[tuple[str, str]], targets: str | list[str]) -> None:
    """`check` for a model given as its modules' (name, class name) pairs."""
    if targets == ALL_LINEAR:
        return
    names = [name for name, _ in modules if name]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if not missing:
        return
    layers = sorted({_short(name) for name, kind in modules if name and kind in _ADAPTABLE})
    close = difflib.get_close_matches(missing[0], layers, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    listed = ", ".join(layers[:12]) + (", ..." if len(layers) > 12 else "")
    raise ConfigError(f"{FIELD}: {', '.join(map(repr, missing))} {'names' if len(missing) == 1 else 'name'} no "
                      f"module of the model; {hint}its layers are named {listed or 'nothing LoRA adapts'}")


def _short(name: str) -> str:
    """A module's name as a target names it: its last part, or its last two where that is an index
    (a UNet's `to_out.0`)."""
    parts = name.split(".")
    return ".".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]
