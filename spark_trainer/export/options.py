"""What an export asks for: which checkpoint, adapter or merged, the weight dtype, where to write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spark_trainer.errors import BadInput
from spark_trainer.export.checkpoint import check_spec

DTYPES = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class ExportOptions:
    """Args:
        checkpoint: "last", "best" or a step number (as text or int).
        merge: merge adapters into the base model (a full model) instead of saving the adapter only.
        dtype: weight dtype; "auto" keeps the base model's dtype for merged models, fp32 for adapters.
        out: the export folder (default: `exports/<id>/` in the data home).
    """

    checkpoint: str = "last"
    merge: bool = False
    dtype: str = "auto"
    out: Path | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise BadInput(f"--dtype {self.dtype!r} is not one of: {', '.join(DTYPES)}")
        check_spec(self.checkpoint)
