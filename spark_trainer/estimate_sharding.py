"""Peak GPU memory per GPU under FSDP, and what `train.sharding` will do with a run.

With FSDP over N GPUs (spark_trainer.training.sharding) each GPU keeps 1/N of the fp32 master
weights, gradients and AdamW moments (the estimate's `trainable+optimizer` term, 16 B per parameter)
and gathers whole units one at a time: a decoder layer (and the next, prefetched) for forward and
backward, and the tail (final norm and output head), which stays gathered from the end of forward into
backward. Activations, the loss chunk and the overhead are per process as without sharding:

    per GPU = trainable+optimizer / N + gathered + activations + logits + overhead
    gathered = (2 * layer + head) * p * 2      p = 2 bytes (bf16/fp16 compute) or 4 (fp32);
                                               x2: gathered weights and their unsharded gradients

`spark-trainer estimate` and the setup form's memory panel show this next to the unsharded number
when a full fine-tune plans several GPUs; `sharding_note` says which one the run will use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.estimate import FIT_FRACTION, GIB, MemoryEstimate, ModelShape, estimate_for_config


@dataclass(frozen=True)
class ShardedEstimate:
    processes: int
    per_gpu_bytes: int
    unsharded_bytes: int


def fsdp_estimate(unsharded: MemoryEstimate, shape: ModelShape, processes: int, precision: str) -> ShardedEstimate:
    """`unsharded` (a full fine-tune's estimate) as each of `processes` GPUs holds it under FSDP."""
    p = 4 if precision == "fp32" else 2
    head = shape.vocab_size * shape.hidden_size
    layer = max(0, (shape.num_params - 2 * head - shape.hidden_size) // max(1, shape.num_layers))
    gathered = (2 * layer + head) * p * 2
    sharded = unsharded.parts.get("trainable+optimizer", 0) // max(1, processes)
    rest = sum(v for k, v in unsharded.parts.items() if k not in ("trainable+optimizer", "weights"))
    return ShardedEstimate(processes, sharded + gathered + rest, unsharded.total_bytes)


def sharding_note(config: dict[str, Any], base_model_dir: str | Path, processes: int, free_bytes: int | None) -> str:
    """One line on how `train.sharding` treats this run file on `processes` GPUs ('' when moot)."""
    train = config.get("train") or {}
    mode = str(train.get("sharding") or "auto")
    method = str((config.get("recipe_config") or {}).get("method") or "lora")
    if processes < 2 or method != "full" or mode == "none":
        return ""
    if (Path(base_model_dir) / "model_index.json").is_file():
        return ""  # diffusion pipelines train adapters only
    unsharded = estimate_for_config(config, base_model_dir)
    precision = str(train.get("precision") or "auto")
    found = fsdp_estimate(unsharded, ModelShape.from_folder(base_model_dir), processes,
                          "bf16" if precision == "auto" else precision)
    # GiB, as the rest of the app writes sizes (1024-based: spark_trainer.disk)
    text = f"with FSDP over {processes} GPUs: ~{found.per_gpu_bytes / GIB:.1f} GiB per GPU"
    if mode == "fsdp":
        return f"{text} (train.sharding fsdp)"
    if free_bytes is None:
        return f"{text} (train.sharding auto shards when the estimate exceeds 90% of one GPU's free memory)"
    if unsharded.total_bytes > FIT_FRACTION * free_bytes:
        return f"{text}; train.sharding auto will shard (the unsharded estimate exceeds one GPU)"
    return f"{text}; train.sharding auto will not shard (the run fits one GPU)"
