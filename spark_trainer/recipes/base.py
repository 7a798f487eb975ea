"""The recipe protocol: what the training engine asks of a recipe.

The engine does the common work (devices, precision, optimizer, schedule, accumulation, clipping,
checkpoints, evaluation cadence, reporting, stop/save/sample commands). A recipe only knows its
data, its model, its loss and its final artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Recipe(Protocol):
    train_rows: list[Any]  # items the engine batches (for causal-lm: packed rows)
    val_rows: list[Any]

    def prepare(self, data_path: Path) -> None:
        """Read and validate data and model settings. Raises BadInput/ConfigError before training."""

    def build_model(self, device: Any, precision: str) -> Any:
        """The model to train, on `device`, with only the trainable parameters requiring grad."""

    def collate(self, rows: list[Any]) -> dict[str, Any]:
        """CPU tensors for one micro-batch."""

    def loss(self, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        """(sum of per-token losses, number of target tokens) for a micro-batch on the model's device."""

    def tokens_in(self, rows: list[Any]) -> int:
        """Real (non-padding) tokens in these rows, for tokens/s."""

    def eval_metrics(self, loss_sum: float, tokens: int) -> dict[str, float]:
        """Metrics from the validation loss (e.g. eval_loss, eval_perplexity)."""

    def generate_samples(self, model: Any, prompts: list[str]) -> list[dict[str, str]]:
        """Generated text for fixed prompts."""

    def save_final(self, model: Any, dest: Path) -> None:
        """Write the final artifact (adapter or full model, plus what is needed to load it)."""
