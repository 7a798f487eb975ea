"""The accelerator a run trains with: device, precision (mixed precision and the gradient scaler),
FSDP when the run is sharded, and the per-process GPU memory cap."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import ConfigError
from spark_trainer.training import sharding, steps


def make_accelerator(config: ExperimentConfig, model_dir: Path | None) -> tuple[Any, str, sharding.ShardingPlan]:
    """(the accelerator, the precision `auto` resolved to, the sharding plan) for `config`'s run."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    cpu = config.gpus.strip().lower() == "cpu" or not torch.cuda.is_available()
    device_type = "cpu" if cpu else "cuda"
    precision = steps.resolve_precision(config.train.precision, device_type)
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        AcceleratorState._reset_state(reset_partial_state=True)  # several runs in one process (tests, bench)
    mixed = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}[precision]
    plan = sharding.plan_for_run(config, cpu=cpu, model_dir=model_dir)
    fsdp = sharding.plugin() if plan.fsdp else None
    accelerator = Accelerator(cpu=cpu, mixed_precision=mixed, fsdp_plugin=fsdp)
    if cpu and mixed == "fp16":
        cpu_fp16(accelerator)
    if fsdp is not None:
        sharding.enable_fsdp(accelerator, fsdp)  # on the CPU accelerate would ignore the plugin
        sharding.silence_view_warning()
    if not cpu:
        cap_gpu_memory(accelerator.device)
    return accelerator, precision, plan


def cpu_fp16(accelerator: Any) -> None:
    """Make `precision: fp16` on the CPU mean what it means on a GPU.

    accelerate leaves fp16 off on the CPU (no autocast, no scaler), so such a run trained in fp32
    while its log said fp16. torch has fp16 autocast and a gradient scaler on the CPU; with them the
    run computes in fp16, scales its loss and skips steps whose gradients overflow, and its
    checkpoints carry the scaler like a GPU run's. Set before `prepare`, which wraps the forward in
    autocast and hands the scaler to the optimizer.
    """
    import torch

    accelerator.native_amp = True
    accelerator.scaler = torch.amp.GradScaler("cpu")


def cap_gpu_memory(device: Any) -> None:
    """Honour SPARK_TRAINER_CUDA_MEMORY_FRACTION (0 < f <= 1): this process may allocate at most that
    share of the GPU's memory, so several runs can share a GPU and out-of-memory is testable."""
    import torch

    text = os.environ.get("SPARK_TRAINER_CUDA_MEMORY_FRACTION", "").strip()
    if not text:
        return
    try:
        fraction = float(text)
    except ValueError:
        raise ConfigError(f"SPARK_TRAINER_CUDA_MEMORY_FRACTION must be a number in (0, 1], got {text!r}") from None
    if not 0 < fraction <= 1:
        raise ConfigError(f"SPARK_TRAINER_CUDA_MEMORY_FRACTION must be in (0, 1], got {fraction}")
    # One process's accelerator device is plain "cuda" (no index), which torch refuses here: the GPU this
    # process uses is the current one (CUDA_VISIBLE_DEVICES has narrowed it to its own).
    index = device.index if getattr(device, "index", None) is not None else torch.cuda.current_device()
    torch.cuda.set_per_process_memory_fraction(fraction, index)
