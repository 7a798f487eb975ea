"""What an export holds in memory: a base model built on the meta device with only a checkpoint's
trained tensors real (an adapter export), and the one-line refusal of a load that cannot fit (a merge
or full export). The GUI runs exports in its own process: a load past free memory and swap ends
with the system's OOM killer taking the whole app.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spark_trainer.errors import OperationFailed

_DTYPE_NAMES = {"torch.bfloat16": "bf16", "torch.float16": "fp16", "torch.float32": "fp32",
                "bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
_FP32_FACTOR = {"bf16": 2, "fp16": 2}  # how much bigger a stored weight grows once loaded in fp32
WHY_LOADED = {  # why an export loads the whole base, and what to do when it does not fit
    "merged": ("merging the adapter into the base", "export the adapter alone (not merged), or free memory"),
    "full": ("exporting the full fine-tune", "free memory"),
    "adapter": ("saving this adapter", "free memory"),
}


def base_dtype(model_dir: Path) -> str:
    """The dtype a model folder's weights are stored in ("fp32" when its config does not say, as a
    diffusers part's config never does: its half-precision weights come as `*.fp16.*` variant files)."""
    path = Path(model_dir) / "config.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    stored = data.get("dtype") or data.get("torch_dtype") or "float32"
    return _DTYPE_NAMES.get(str(stored), "fp32")


def weight_files(model_dir: Path) -> list[Path]:
    """The weight files `from_pretrained` reads from a folder: the safetensors when there are any (a
    folder cloned from the Hub often holds the same weights as `.bin` too), and not the `.fp16.`
    variants a diffusers folder keeps beside its main weights."""
    for suffix in (".safetensors", ".bin"):
        found = sorted(Path(model_dir).glob(f"*{suffix}"))
        main = [p for p in found if "." not in p.name[: -len(suffix)]]  # model.fp16.safetensors: a variant
        if found:
            return main or found
    return []


def weights_bytes_fp32(model_dir: Path) -> int:
    """What a model folder's weights take once loaded in fp32 (as a merge or full export loads them)."""
    stored = sum(p.stat().st_size for p in weight_files(model_dir))
    return stored * 4 // _FP32_FACTOR.get(base_dtype(model_dir), 4)


def check_memory(model_dirs: Iterable[Path], name: str, what: str, advice: str, *,
                 checkpoint: Path | None = None) -> None:
    """Refuse, in one line, a load of the weights in `model_dirs` (in fp32) that cannot fit in memory
    (RAM and free swap): it would only end with the process killed by the system. `name` is the base
    as the user knows it; `what` and `advice` say why it is loaded and what to do instead. A full
    fine-tune's `checkpoint` is read whole while the base is in memory (as big as the model again)."""
    import psutil

    from spark_trainer.disk import gb

    needed = int(sum(weights_bytes_fp32(d) for d in model_dirs) * 1.1)  # a shard being written on top
    trained = 0 if checkpoint is None else (Path(checkpoint) / "trainable.safetensors").stat().st_size
    free = psutil.virtual_memory().available + psutil.swap_memory().free
    if needed + trained > free:
        held = f"the base model {name} in fp32" + (" and the checkpoint" if trained else "")
        raise OperationFailed(f"{what} needs about {gb(needed + trained)} of memory ({held}) and {gb(free)} is "
                              f"free: {advice} and try again")


def trained_tensors(checkpoint: Path) -> dict[str, Any]:
    """A checkpoint's trained tensors (`trainable.safetensors`), by the names the engine saved them under;
    BadInput naming the file when it is damaged."""
    from spark_trainer.export.checkpoint import read_tensors

    return read_tensors(Path(checkpoint) / "trainable.safetensors")


def make_real(model: Any, weights: dict[str, Any]) -> bool:
    """Put `weights` (names as `model.named_parameters()` gives them) into a model built on the meta
    device (accelerate's `init_empty_weights`), in fp32 as a full load has them; the rest stays meta,
    taking no memory. False, with nothing done, when `weights` names a parameter the model lacks (the
    caller then loads the base, and `load_trainable` names the mismatch)."""
    import torch
    from accelerate.utils import set_module_tensor_to_device

    if not set(weights) <= {name for name, _ in model.named_parameters()}:
        return False
    for name, tensor in weights.items():
        # dtype given: accelerate would otherwise cast to the meta parameter's dtype (a bf16 base's
        # head copy is bf16 on the meta device), where the full load holds the trained tensor exactly.
        set_module_tensor_to_device(model, name, "cpu", value=tensor, dtype=torch.float32)
    return True


def all_real(state: dict[str, Any]) -> bool:
    """No tensor of `state` is on the meta device: what an exporter saves did not need the base's weights
    (peft's adapter state also holds base tensors for a targeted lm_head or embeddings)."""
    return not any(t.is_meta for t in state.values())
