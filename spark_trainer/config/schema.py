"""The experiment config: what `spark-trainer train` reads and the GUI's presets save.

Every model forbids unknown keys, so a typo is an error that names the key and lists the allowed
ones instead of a silently ignored setting. The `recipe_config` section is validated by the
recipe's own model (see spark_trainer.recipes).
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)


def _takes_a_number(annotation: Any) -> bool:
    """Whether a field holds a number and not true/false: int or float, alone or with None."""
    if annotation in (int, float):
        return True
    args = get_args(annotation)
    return (get_origin(annotation) in (Union, types.UnionType) and bool not in args
            and any(arg in (int, float) for arg in args))


class Settings(BaseModel):
    """A section of settings a user writes: unknown keys are refused, and so is true or false where a
    number belongs (pydantic reads `batch_size: true` as 1, `learning_rate: yes` as 1.0)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _true_is_not_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _takes_a_number(field.annotation):
            raise ValueError("must be a number")
        return value


class Section(Settings):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TrainConfig(Section):
    max_steps: int | None = Field(200, ge=1, le=10_000_000, description="Optimizer steps to train for")
    epochs: float | None = Field(
        None, gt=0, le=10_000, description="Passes over the training split (used when max_steps is empty)"
    )
    learning_rate: float = Field(2.0e-4, gt=0, le=1.0, description="Peak learning rate")
    batch_size: int = Field(8, ge=1, le=4096, description="Micro-batch size per device")
    grad_accum: int = Field(1, ge=1, le=1024, description="Micro-batches per optimizer step")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto picks bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU"
    )
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Random seed for data order and initialisation")
    lr_scheduler: Literal["linear", "cosine", "constant"] = Field("cosine", description="Learning-rate schedule")
    warmup_steps: int = Field(0, ge=0, le=1_000_000, description="Linear warm-up steps")
    warmup_ratio: float = Field(0.0, ge=0, le=0.5, description="Warm-up as a fraction of all steps (if steps is 0)")
    weight_decay: float = Field(0.0, ge=0, le=1.0, description="AdamW weight decay")
    max_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping norm (empty: no clipping)")
    max_skipped_steps: int = Field(
        5, ge=0, le=1000, description="Steps in a row that may be skipped because their loss or gradients are "
        "not finite (NaN/inf: no weight update, training goes on); one more ends the run as diverged. 0: the "
        "first such step ends it. fp16's gradient scaler skips overflowing steps on its own, uncounted")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory")
    compile: Literal["auto", True, False] = Field(
        "auto", description="torch.compile the model: auto compiles on CUDA where kernels can be built (Python's "
        "headers and a C compiler; never in the packaged app), not on the CPU; a compile failure falls back to "
        "eager with a run event")
    sharding: Literal["auto", "none", "fsdp"] = Field(
        "auto", description="Several GPUs: fsdp splits weights, gradients and optimizer state over them (full "
        "fine-tuning only); none keeps a whole copy on each; auto picks fsdp when the estimate exceeds one GPU")
    auto_batch: bool = Field(False, description="On out-of-memory, halve the micro-batch and double accumulation")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="Stop after this many evaluations without improvement (empty: off)"
    )
    early_stopping_metric: str | None = Field(
        None, description="Evaluation metric watched by early stopping and best-checkpoint keeping, in the "
        "direction the recipe declares (empty: the recipe's main metric, e.g. eval_loss or eval_accuracy)"
    )

    @field_validator("early_stopping_metric")
    @classmethod
    def _empty_is_the_main_metric(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None  # as the help says: empty, the main one

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> TrainConfig:
        if self.max_steps is None and self.epochs is None:
            raise ValueError("set train.max_steps or train.epochs")
        return self


class EvalConfig(Section):
    every_steps: int | None = Field(50, ge=1, description="Evaluate every N steps (and always at the end)")
    val_fraction: float = Field(0.1, ge=0, le=0.5, description="Share of the dataset held out for validation")
    max_batches: int | None = Field(None, ge=1, description="Cap on validation batches per evaluation")
    samples_every_steps: int | None = Field(
        None, ge=1, description="Log samples every N steps (what a sample is, and its prompts, is the recipe's)")


class CheckpointConfig(Section):
    every_steps: int | None = Field(100, ge=1, description="Save a checkpoint every N steps (and at the end)")
    keep: int = Field(3, ge=1, le=1000, description="Checkpoints kept, besides the best")
    keep_best: bool = Field(True, description="Also keep the checkpoint with the best eval metric")


class ExperimentConfig(Section):
    """One run file: project, experiment name, recipe, model, dataset and hyperparameters."""

    project: str = Field("default", min_length=1, description="Project (created if missing)")
    name: str = Field(..., min_length=1, max_length=200, description="Experiment name")
    recipe: str = Field(..., description="Recipe name; see `spark-trainer recipes`")
    base_model: str = Field(..., min_length=1, description="Local folder or a Hugging Face id in the local cache")
    dataset: str = Field(..., min_length=1, description="A path (ingested on first use), or a dataset name or id")
    gpus: str = Field("auto", description="auto | cpu | cpu:N | GPU ids like 0 or 0,1 | count:N (a bare number is an id)")
    priority: int = Field(0, ge=-100, le=100, description="Higher runs first among queued runs")
    notes: str = Field("", description="Free text")
    train: TrainConfig = Field(default_factory=TrainConfig)
    recipe_config: dict[str, Any] = Field(default_factory=dict, description="The recipe's own settings")
    eval: EvalConfig = Field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)

    _upgrade_notes: list[str] = PrivateAttr(default_factory=list)

    @field_validator("gpus", "project", "dataset", "name", "base_model", "notes", mode="before")
    @classmethod
    def _bare_number(cls, value: Any) -> Any:
        # YAML (a run file, a --set) reads `gpus: 0` as the number 0: it names GPU 0, as "0" does; and
        # `dataset: 3` a dataset by its id (names are never all digits: an all-digit name is refused later).
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="wrap")
    @classmethod
    def _upgrade_old_layout(cls, data: Any, handler: ModelWrapValidatorHandler[ExperimentConfig]) -> ExperimentConfig:
        # Files and stored configs from before train.seq_len / eval.sample_prompts moved into the
        # recipe's section still load (see config/legacy.py); the notes say what was moved.
        notes: list[str] = []
        if isinstance(data, dict):
            from spark_trainer.config.legacy import upgrade

            data, notes = upgrade(data)
        config = handler(data)
        if notes:
            config._upgrade_notes = notes
        return config

    @property
    def upgrade_notes(self) -> list[str]:
        """One line per old-layout field this config was read with (moved or ignored); empty for a
        config in the current layout."""
        return list(self._upgrade_notes)
