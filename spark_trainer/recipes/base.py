"""The recipe protocol: what the training engine asks of a recipe.

The engine does the common work (devices, precision, optimizer, schedule, accumulation, clipping,
data order, loading, checkpoints, exact resume, evaluation cadence, best-checkpoint keeping, early
stopping, reporting, stop/save/sample commands). A recipe knows its data, its model, its loss, how
to score its own predictions, what a sample looks like, and its final artifact.

Data flows like this, for training and evaluation alike:

    item = recipe.train_data[i]          # cheap handle: a packed token row, a (path, label) pair...
    example = recipe.load(item, seed)    # per-item work (decode, augment); in DataLoader workers
                                         # when `loader_workers` > 0; `seed` is None in evaluation
    batch = recipe.collate(examples)     # CPU tensors of one micro-batch
    loss_sum, count = recipe.loss(model, batch)   # on the device; count == recipe.loss_count(batch)

`loss_sum` is a sum over the recipe's loss units (target tokens, examples, images) and
`loss_count(batch)` counts them without running the model, so that the engine can make the step's
gradient the mean over every unit of every micro-batch on every process.

Evaluation: `eval_step` returns tensors that the engine sums over batches and processes (a loss
sum, a count, a confusion matrix...), then `eval_metrics` turns the totals into scalar metrics and
an optional report (JSON-able dict, plus images) that the engine stores as run artifacts.

Metric direction lives in the `RecipeSpec` (`metrics=(MetricSpec(...), ...)`, see registry.py), so
evaluation, best-checkpoint keeping, early stopping, checkpoint pruning and the leaderboard all read
the same declaration without importing torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class MetricSpec:
    """A metric a recipe logs. `higher_is_better` decides best checkpoints, early stopping, ranking."""

    key: str
    higher_is_better: bool = False
    title: str = ""  # for chart titles; the key when empty
    chart: bool = True  # charted in the run detail view

    @property
    def label(self) -> str:
        return self.title or self.key


@dataclass
class Sample:
    """One generated or predicted sample, of any media type, shown in the run's Samples tab.

    A text sample has `text` (a completion for `prompt`); an image sample has `image` (a PIL image,
    saved by the engine as a PNG next to the step's JSON) and a `caption`.
    """

    prompt: str = ""
    text: str | None = None
    image: Any = None
    caption: str = ""

    @property
    def media(self) -> str:
        return "image" if self.image is not None else "text"


@dataclass
class EvalResult:
    """What `eval_metrics` returns: scalars to log, and an optional report stored as artifacts.

    `report` is written as `eval/step-XXXXXXXX.json` (kind `eval_report`); each entry of `images`
    as `eval/step-XXXXXXXX-<name>.png` (kind `eval_image`, meta {"name": name}).
    """

    metrics: dict[str, float]
    report: dict[str, Any] | None = None
    images: dict[str, Any] = field(default_factory=dict)


class Recipe(Protocol):
    """The type the engine trains. Implementations live in `*_impl.py` modules (they import torch)."""

    unit: str  # what the work rate counts: "tokens", "examples" or "images" (logged as <unit>_per_s)
    loader_workers: int  # 0: load items in the training process; N: a DataLoader with N worker processes
    train_data: Sequence[Any]
    val_data: Sequence[Any]

    def prepare(self, data_path: Path) -> None:
        """Read and validate data and model settings. Raises BadInput/ConfigError before training."""

    def build_model(self, device: Any, precision: str) -> Any:
        """The model to train, on `device`, with only the trainable parameters requiring grad."""

    def load(self, item: Any, seed: int | None) -> Any:
        """One example from a data item (decode, augment with `seed`; `seed` is None for evaluation).
        Runs in DataLoader worker processes when `loader_workers` > 0, so it must be picklable."""

    def collate(self, examples: list[Any]) -> dict[str, Any]:
        """CPU tensors for one micro-batch."""

    def loss_count(self, batch: dict[str, Any]) -> int:
        """How many loss units (target tokens, examples...) the CPU batch holds."""

    def work_in(self, batch: dict[str, Any]) -> int:
        """Units of work (`unit`) in the CPU batch, for the work rate: real tokens, examples, images."""

    def loss(self, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        """(sum of per-unit losses, number of units) for a micro-batch on the model's device."""

    def eval_step(self, model: Any, batch: dict[str, Any]) -> dict[str, Any]:
        """Tensors to be summed over validation batches and processes (loss sum, counts, confusion)."""

    def eval_metrics(self, totals: dict[str, Any]) -> EvalResult:
        """Metrics (and a report) from the summed `eval_step` tensors (as CPU tensors)."""

    def generate_samples(self, model: Any) -> list[Sample]:
        """Samples for the Samples tab: completions of fixed prompts, predictions on fixed images..."""

    def log_notes(self) -> list[str]:
        """Lines for the run's log after preparing (truncated rows, skipped images...)."""

    def save_final(self, model: Any, dest: Path) -> None:
        """Write the final artifact (adapter or full model, plus what is needed to load it)."""


def batches_of(items: Sequence[Any], size: int) -> list[list[Any]]:
    """`items` in consecutive chunks of `size` (the last may be shorter)."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
