"""One generator per recipe kind: what the playground server (and `spark-trainer generate`) runs.

A generator loads a run's weights once and answers many requests. `generate` gets the request's
inputs and settings as plain dicts (they come over the wire), streams partial text through `emit`
where the kind has any, and returns the output as a JSON-ready dict. Registering a recipe here is
all a new kind needs on the core side; the GUI picks its panel by `GeneratorSpec.kind`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from spark_trainer.errors import BadInput
from spark_trainer.playground.source import ModelSource

Emit = Callable[[str], None]
ShouldStop = Callable[[], bool]


class Generator(Protocol):
    def load(self, source: ModelSource, device: str) -> dict[str, Any]:
        """Load the weights on `device` ("cpu", "cuda" or "cuda:N"); returns facts for the UI (e.g. chat_template)."""

    def generate(self, inputs: dict[str, Any], settings: dict[str, Any], *, base: bool, emit: Emit,
                 should_stop: ShouldStop) -> dict[str, Any]:
        """One answer. `base` answers with the base model (no fine-tuning) for comparison.

        Raises:
            BadInput: invalid inputs or settings (the message names the field).
        """

    def memory_bytes(self) -> int:
        """Bytes the loaded weights hold on their device (GPU memory on a GPU)."""

    def close(self) -> None:
        """Drop the model (the process usually exits right after)."""


@dataclass(frozen=True)
class GeneratorSpec:
    recipe: str
    kind: str  # "text-generation" | "classification" | "image-generation"
    implementation: str  # "module:Class", imported only to generate

    def create(self) -> Generator:
        module_name, _, attr = self.implementation.partition(":")
        return getattr(importlib.import_module(module_name), attr)()


GENERATORS: dict[str, GeneratorSpec] = {
    spec.recipe: spec for spec in (
        GeneratorSpec("causal-lm", "text-generation", "spark_trainer.playground.causal_lm:CausalLMGenerator"),
        GeneratorSpec("text-classification", "classification",
                      "spark_trainer.playground.classification:ClassificationGenerator"),
        GeneratorSpec("image-classification", "classification",
                      "spark_trainer.playground.classification:ClassificationGenerator"),
        GeneratorSpec("diffusion-lora", "image-generation", "spark_trainer.playground.diffusion:DiffusionGenerator"),
    )
}


def generator_spec(recipe: str) -> GeneratorSpec:
    """Raises BadInput when the playground cannot try runs of this recipe."""
    try:
        return GENERATORS[recipe]
    except KeyError:
        raise BadInput(f"the playground cannot try {recipe!r} runs yet; it can try: "
                       f"{', '.join(sorted(GENERATORS))}") from None
