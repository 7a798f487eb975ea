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
# What peft's LoRA adapts (Conv1D: GPT-2's; Linear4bit and Linear8bitLt: a QLoRA model's quantized Linear).
_ADAPTABLE = ("Linear", "Conv1d", "Conv2d", "Conv3d", "Conv1D", "Embedding", "Linear4bit", "Linear8bitLt",
              "MultiheadAttention")


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
    name, or its last dotted parts), naming close names and the kinds of layer the model has; or that
    matches a module LoRA cannot adapt (a block of layers), naming the layers inside it."""
    if targets != ALL_LINEAR:
        check_names([(name, type(module).__name__) for name, module in model.named_modules()], targets)


def check_names(modules: Sequence[tuple[str, str]], targets: str | list[str]) -> None:
    """`check` for a model given as its modules' (name, class name) pairs."""
    if targets == ALL_LINEAR:
        return
    names = [name for name, _ in modules if name]
    missing = [t for t in targets if not any(_matches(n, t) for n in names)]
    layers = sorted({_short(name) for name, kind in modules if name and kind in _ADAPTABLE})
    listed = ", ".join(layers[:12]) + (", ..." if len(layers) > 12 else "")
    if missing:
        close = difflib.get_close_matches(missing[0], layers, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise ConfigError(f"{FIELD}: {', '.join(map(repr, missing))} {'names' if len(missing) == 1 else 'name'} no "
                          f"module of the model; {hint}its layers are named {listed or 'nothing LoRA adapts'}")
    # peft wraps every module a name matches, and fails on a block ("mlp": a LlamaMLP) with its own
    # "Target module LlamaMLP(...) is not supported", the whole block printed, once the run had started.
    for target in targets:
        block = next(((name, kind) for name, kind in modules if name and _matches(name, target)
                      and kind not in _ADAPTABLE), None)
        if block is not None:
            inside = sorted({_short(n) for n, k in modules if n.startswith(block[0] + ".") and k in _ADAPTABLE})
            within = f"; the layers inside it are named {', '.join(inside)}" if inside else ""
            raise ConfigError(f"{FIELD}: {target!r} names a {block[1]} ({block[0]}), not a layer LoRA adapts "
                              f"(Linear, Conv or Embedding){within}")


def _matches(name: str, target: str) -> bool:
    """Whether peft's target `target` names module `name`: the whole name, or its last dotted parts."""
    return name == target or name.endswith("." + target)


def _short(name: str) -> str:
    """A module's name as a target names it: its last part, or its last two where that is an index
    (a UNet's `to_out.0`)."""
    parts = name.split(".")
    return ".".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]
