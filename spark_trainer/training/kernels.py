"""Optional fused Triton kernels from liger-kernel for the model's layers (CUDA only).

The fused linear cross-entropy is always used when liger-kernel is installed (training/losses.py).
RMSNorm, SwiGLU and RoPE kernels are opt-in until `benchmarks/gpu_check.sh` shows they pay off in
`bench lora --preset 1b` (with torch.compile, inductor already fuses much of the same work):
`SPARK_TRAINER_LIGER_KERNELS=rms_norm,swiglu,rope` patches a model instance when it is built.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any

KERNELS = ("rms_norm", "swiglu", "rope")


def quiet_optional_kernel_probe() -> None:
    """peft imports bitsandbytes, whose CPU backend probes for an optional kernel package on CPUs with
    AVX512-BF16 and warns when it is missing ("Failed to load CPU gemm_4bit_forward..."), though the plain
    CPU 4-bit path works: into every run's log, the playground's stderr and each command's output.
    With transformers 5.25 the `kernels` package comes too, and that probe, offline (as every run and
    test is), first says "Skipping publisher trust check for 'kernels-community/quantization-bitsandbytes'
    because Hugging Face Hub is in offline mode": quieted alike (a fresh venv's `generate` printed it)."""
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    logging.getLogger("kernels").setLevel(logging.ERROR)


def requested() -> list[str]:
    """The kernels named in SPARK_TRAINER_LIGER_KERNELS; an unknown name is a one-line error."""
    from spark_trainer.errors import ConfigError

    names = [n.strip().lower() for n in os.environ.get("SPARK_TRAINER_LIGER_KERNELS", "").split(",") if n.strip()]
    unknown = [n for n in names if n not in KERNELS]
    if unknown:
        raise ConfigError(f"SPARK_TRAINER_LIGER_KERNELS: unknown kernel {unknown[0]!r}; known: {', '.join(KERNELS)}")
    return names


def apply_fused_kernels(model: Any, device_type: str) -> str | None:
    """Patch `model` (a transformers model, before adapters) with the requested kernels; a line for
    the run's log saying what was done, or None when nothing was requested."""
    names = requested()
    if not names:
        return None
    if device_type != "cuda":
        return f"liger kernels {', '.join(names)} requested but not applied: they need CUDA"
    if importlib.util.find_spec("liger_kernel") is None:
        return f"liger kernels {', '.join(names)} requested but liger-kernel is not installed (pip install liger-kernel)"
    from liger_kernel.transformers.monkey_patch import _apply_liger_kernel_to_instance

    flags = {name: name in names for name in KERNELS}
    # Never let liger replace the model's forward or loss: the recipe's loss (losses.py) owns that.
    _apply_liger_kernel_to_instance(model=model, cross_entropy=False, fused_linear_cross_entropy=False, **flags)
    return f"liger kernels applied: {', '.join(names)}"
