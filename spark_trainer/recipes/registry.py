"""The recipe registry: each recipe module declares a `RecipeSpec` named `RECIPE`.

Recipe modules must be cheap to import (no torch at module top): the CLI lists recipes and
validates configs without loading any training library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.recipes.base import MetricSpec
from spark_trainer.recipes.fit import DataFacts

BUILTIN_MODULES = (
    "spark_trainer.recipes.causal_lm",
    "spark_trainer.recipes.diffusion_lora",
    "spark_trainer.recipes.text_classification",
    "spark_trainer.recipes.image_classification",
)

# Metrics the engine logs for every recipe (their direction matters to the leaderboard and charts).
ENGINE_METRICS = (
    MetricSpec("loss", False, "training loss"), MetricSpec("lr", False, "learning rate"),
    MetricSpec("grad_norm", False, "gradient norm"), MetricSpec("samples_per_s", True, "samples/s", chart=False),
    MetricSpec("tokens_per_s", True, "tokens/s"), MetricSpec("examples_per_s", True, "examples/s"),
    MetricSpec("images_per_s", True, "images/s"), MetricSpec("epoch", True, chart=False),
    MetricSpec("gpu_mem_gb", False, "peak GPU memory (GiB)"),
    MetricSpec("skipped_steps", False, "skipped steps (loss or gradients not finite)"),
    # per-step work counts (the recipe's unit), kept for throughput sums, not charted
    MetricSpec("tokens", True, chart=False), MetricSpec("examples", True, chart=False),
    MetricSpec("images", True, chart=False),
)


@dataclass(frozen=True)
class RecipeSpec:
    """What a recipe declares: its name, its config section and where its implementation lives.

    Args:
        name: the id used in configs (`recipe: causal-lm`).
        title: a short human title for lists and the GUI.
        description: one or two sentences.
        config_model: pydantic model of the `recipe_config` section (defaults, ranges, help).
        data_kinds: dataset kinds the recipe trains on (text, image, ...).
        implementation: "module:attribute" of the recipe class, imported only to train.
        metrics: the evaluation metrics the recipe logs, with their direction; the first one is the
            main metric (best checkpoint and early stopping watch it unless configured otherwise).
        unit: what the recipe's work rate counts (tokens, examples, images): `<unit>_per_s`.
        moved_fields: (old "section.key", new recipe_config key) for fields that used to live in the
            shared sections (`train.seq_len`, `eval.sample_prompts`); old run files are read with
            them moved (see config/legacy.py). An old field a recipe does not list is ignored.
        frozen_defaults: (recipe_config key, value) for settings added after runs were frozen whose
            default changed how a run trains: a run's frozen config without the key (queued or
            paused across an upgrade) takes this value, so it resumes as it began.
        data_fit: (dataset facts, recipe settings) -> why the recipe cannot train on a dataset of an
            accepted kind (its first row lacks a column the recipe reads...), or None. Cheap: it sees
            the facts of `spark_trainer.recipes.fit`, never the whole dataset.
        model_fit: a base model folder -> why the recipe cannot start from it (a diffusers pipeline
            for a transformers recipe, no tokenizer...), or None. Looks at file names only.
        decided_settings: (dataset facts, recipe settings) -> the recipe settings the dataset decides
            (causal-LM's `format: auto` -> the format its fields say), frozen into a run's config at
            submit so that everything reading the run later sees what it trained with; {} for none.
            As cheap as `data_fit`; unknown facts decide nothing (the recipe's `check_data` may).
        data_advice: (dataset facts, recipe settings, base model folder or None) -> a one-line warning
            about a run the recipe can train but likely not as meant (images far smaller than the
            training size...), or None. As cheap as `data_fit`; it never refuses a run.
        cpu_fit: recipe settings -> why the recipe cannot train with them on the CPU (causal-LM's flex
            attention has no backward pass there), or None. Submit asks it of a run that will train on
            the CPU (`gpus: cpu`, or auto on a machine without GPUs).
    """

    name: str
    title: str
    description: str
    config_model: type[BaseModel]
    data_kinds: tuple[str, ...]
    implementation: str
    tags: tuple[str, ...] = field(default_factory=tuple)
    metrics: tuple[MetricSpec, ...] = (MetricSpec("eval_loss", False, "validation loss"),)
    unit: str = "examples"
    moved_fields: tuple[tuple[str, str], ...] = ()
    frozen_defaults: tuple[tuple[str, Any], ...] = ()
    data_fit: Callable[[DataFacts, Any], str | None] | None = None
    model_fit: Callable[[Path], str | None] | None = None
    data_advice: Callable[[DataFacts, Any, Path | None], str | None] | None = None
    decided_settings: Callable[[DataFacts, Any], dict[str, Any]] | None = None
    cpu_fit: Callable[[Any], str | None] | None = None

    @property
    def main_metric(self) -> MetricSpec:
        return self.metrics[0]

    def metric(self, key: str | None) -> MetricSpec:
        """The declared metric `key` (None: the main metric); unknown keys are a ConfigError."""
        if key is None:
            return self.main_metric
        for spec in self.metrics:
            if spec.key == key:
                return spec
        known = ", ".join(s.key for s in self.metrics)
        raise ConfigError(f"train.early_stopping_metric: recipe {self.name} logs no metric {key!r}; "
                          f"its evaluation metrics are: {known}")

    def check_data_kind(self, kind: str, what: str) -> None:
        """ConfigError unless this recipe trains on datasets of `kind`; `what` names the dataset."""
        if kind not in self.data_kinds:
            kinds = " or ".join(self.data_kinds)
            raise ConfigError(f"dataset: recipe {self.name} trains on {kinds} datasets; {what} is {_a(kind)} "
                              f"{kind} dataset")

    def settings(self, recipe_config: Any) -> BaseModel:
        """The recipe settings `recipe_config` (a mapping or a model) names; the defaults when they are
        not valid (the form says what is wrong with them on its own)."""
        if isinstance(recipe_config, self.config_model):
            return recipe_config
        try:
            return self.config_model.model_validate(dict(recipe_config or {}))
        except (ValidationError, TypeError, ValueError):
            return self.config_model()

    def data_problem(self, facts: DataFacts, recipe_config: Any = None) -> str | None:
        """Why this recipe cannot train on a dataset with `facts` (its kind, then its fields), else None."""
        if facts.kind not in self.data_kinds:
            return f"it is {_a(facts.kind)} {facts.kind} dataset; {self.name} trains on {' or '.join(self.data_kinds)} datasets"
        if self.data_fit is None or not facts.read:  # unknown fields: the recipe's full data check decides
            return None
        return self.data_fit(facts, self.settings(recipe_config))

    def check_data_fit(self, facts: DataFacts, what: str, recipe_config: Any = None) -> None:
        """ConfigError (one line, naming `what`) when `data_problem` finds one."""
        self.check_data_kind(facts.kind, what)
        why = self.data_problem(facts, recipe_config)
        if why:
            raise ConfigError(f"dataset: recipe {self.name} cannot train on {what}: {why}")

    def advice(self, facts: DataFacts, recipe_config: Any = None, model: Path | None = None) -> str | None:
        """The recipe's warning about training on a dataset with `facts` as `recipe_config` says (what
        `train` prints and the setup form shows before a run starts), else None."""
        if self.data_advice is None or facts.kind not in self.data_kinds:
            return None
        return self.data_advice(facts, self.settings(recipe_config), model)

    def decided(self, facts: DataFacts, recipe_config: Any = None) -> dict[str, Any]:
        """The settings a dataset with `facts` decides for a run of `recipe_config` (`decided_settings`)."""
        if self.decided_settings is None or not facts.read or facts.kind not in self.data_kinds:
            return {}
        return self.decided_settings(facts, self.settings(recipe_config))

    def model_problem(self, folder: Path) -> str | None:
        """Why this recipe cannot start from the base model `folder`, else None."""
        return None if self.model_fit is None else self.model_fit(Path(folder))

    def unused_fields(self, recipe_config: Any) -> tuple[str, ...]:
        """The recipe settings `recipe_config` leaves unused: LoRA's, with `method: full`."""
        if getattr(self.settings(recipe_config), "method", None) != "full":
            return ()
        return tuple(name for name in LORA_FIELDS if name in self.config_model.model_fields)

    def check_cpu_fit(self, recipe_config: Any) -> None:
        """ConfigError (one line, naming the field) when `cpu_fit` says these settings cannot train on the CPU."""
        why = None if self.cpu_fit is None else self.cpu_fit(self.settings(recipe_config))
        if why:
            raise ConfigError(f"{why}; this run trains on the CPU (gpus: cpu, or no GPU on this machine)")

    def check_model_fit(self, folder: Path) -> None:
        why = self.model_problem(folder)
        if why:
            raise ConfigError(f"base_model: recipe {self.name} cannot start from {folder}: {why}")

    def check_data(self, config: Any, data_path: Path, what: str | None = None) -> dict[str, Any]:
        """The problems a run would meet before its first step that need no model loaded (a missing
        label column, a single class, images without captions...), raised as BadInput by submit, so
        that the run is never created. Recipes opt in with a `check_data(data_path)` method; the
        worker's `prepare` raises the same errors for runs queued without this check. Returns the
        recipe settings the data decided (causal-LM's detected row format), which submit freezes
        into the run's config; the check may return None for none. `what` ("dataset 'reviews'")
        replaces the folder a problem of the whole dataset names, as `check_data_fit` words it."""
        recipe_class = self.load()
        if not hasattr(recipe_class, "check_data"):
            return {}
        try:
            return dict(recipe_class(config).check_data(Path(data_path)) or {})
        except BadInput as exc:
            folder = f"dataset {Path(data_path)}: "
            if what is None or not str(exc).startswith(folder):
                raise
            raise type(exc)(f"dataset: recipe {self.name} cannot train on {what}: {str(exc)[len(folder):]}") from None

    def load(self) -> Any:
        """Import and return the recipe implementation (this may import torch)."""
        module_name, _, attr = self.implementation.partition(":")
        return getattr(importlib.import_module(module_name), attr)


LORA_FIELDS = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")  # what LoRA alone reads


class RecipeRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, RecipeSpec] = {}
        self._loaded_builtins = False

    def register(self, spec: RecipeSpec) -> RecipeSpec:
        if spec.name in self._specs and self._specs[spec.name] is not spec:
            raise ValueError(f"recipe {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def _ensure_builtins(self) -> None:
        if not self._loaded_builtins:
            self._loaded_builtins = True
            for module_name in BUILTIN_MODULES:
                self.register(importlib.import_module(module_name).RECIPE)

    def get(self, name: str) -> RecipeSpec:
        self._ensure_builtins()
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise BadInput(f"unknown recipe {name!r}; recipes are: {known}") from None

    def all(self) -> list[RecipeSpec]:
        self._ensure_builtins()
        return [self._specs[name] for name in sorted(self._specs)]


_REGISTRY: RecipeRegistry | None = None


def registry() -> RecipeRegistry:
    """The process-wide registry, created on first use (not at import)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = RecipeRegistry()
    return _REGISTRY


def get_recipe(name: str) -> RecipeSpec:
    return registry().get(name)


def list_recipes() -> list[RecipeSpec]:
    return registry().all()


def metric_spec(key: str, recipe: str | None = None) -> MetricSpec:
    """How `key` is read: the recipe's declaration, else any recipe's or the engine's, else a guess
    from the name (loss/error/perplexity-like keys are lower-is-better)."""
    specs = [s for s in list_recipes() if s.name == recipe] + list_recipes()
    for spec in specs:
        for declared in spec.metrics:
            if declared.key == key:
                return declared
    for declared in ENGINE_METRICS:
        if declared.key == key:
            return declared
    lowered = key.lower()
    lower = any(h in lowered for h in ("loss", "perplexity", "ppl", "error", "wer", "cer", "fid", "mem", "time"))
    return MetricSpec(key, not lower)


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def describe_fields(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Each config field's name, type, default, range and help, for `recipes NAME` and the GUI form."""
    from annotated_types import Ge, Gt, Le, Lt

    described = []
    for name, info in model.model_fields.items():
        bounds: dict[str, Any] = {}
        for meta in info.metadata:
            if isinstance(meta, Ge):
                bounds["min"] = meta.ge
            elif isinstance(meta, Gt):
                bounds["min_exclusive"] = meta.gt
            elif isinstance(meta, Le):
                bounds["max"] = meta.le
            elif isinstance(meta, Lt):
                bounds["max_exclusive"] = meta.lt
        default = info.get_default(call_default_factory=True)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        described.append(
            {
                "name": name,
                "type": _type_name(info.annotation),
                "default": default,
                "help": info.description or "",
                **bounds,
                **({"choices": list(_choices(info.annotation))} if _choices(info.annotation) else {}),
                # Text whose line breaks matter (a prompt or chat template): the form edits it in a text box.
                **({"multiline": True} if extra.get("multiline") else {}),
                **({"placeholder": str(extra["placeholder"])} if extra.get("placeholder") else {}),
            }
        )
    return described


def interval_text(field: dict[str, Any]) -> str:
    """A described field's numeric range as an interval, `[1, 1024]`, `(0, 1.0]`, `[0, inf)`; "" when
    it has none. `recipes NAME` and the setup form's sweep box both show it."""
    low = f"[{field['min']}" if "min" in field else (f"({field['min_exclusive']}" if "min_exclusive" in field else "")
    high = f"{field['max']}]" if "max" in field else (f"{field['max_exclusive']})" if "max_exclusive" in field else "")
    if not low and not high:
        return ""
    return f"{low or '(-inf'}, {high or 'inf)'}"


def _choices(annotation: Any) -> tuple[Any, ...]:
    import typing

    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return ()


def _type_name(annotation: Any) -> str:
    import typing

    if typing.get_origin(annotation) is typing.Literal:
        return "choice"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
