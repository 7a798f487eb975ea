"""Model FLOPs utilisation: useful training FLOPs per second over the GPU's peak.

Useful work counts only what the job needs: each example attending to itself (never to padding
or to its neighbours in a packed row), so every engine is measured against the same FLOPs per
real token and MFU ranks engines exactly as real tokens/s does. Per real token, with P the weight
parameters in matrix multiplies (attention, MLP, output head), T the trainable (LoRA) parameters,
L layers, h the hidden size and c the mean attended length:

    forward          2P + 4Lhc          (matmuls; QK^T and AV)
    LoRA training    2 x 2P + 3 x 4Lhc + 6T   (frozen weights: no weight gradients)
    full training    3 x (2P + 4Lhc)
"""

from __future__ import annotations

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets, by a name fragment.
PEAK_BF16 = (
    ("H200", 989.4e12),
    ("H100 PCIe", 756.0e12),
    ("H100 NVL", 835.0e12),
    ("H100", 989.4e12),
    ("A100", 312.0e12),
    ("L40S", 362.0e12),
    ("RTX 4090", 165.2e12),
)


def peak_flops(device_name: str, precision: str) -> float | None:
    """The GPU's dense bf16/fp16 peak, or None (CPU, fp32, or a GPU not in the table)."""
    if precision not in ("bf16", "fp16"):
        return None
    for fragment, flops in PEAK_BF16:
        if fragment.lower() in device_name.lower():
            return flops
    return None


def mean_context(lengths: list[int]) -> float:
    """Mean number of keys a token attends to when each example attends only to itself (causal)."""
    total = sum(lengths)
    return sum(n * (n + 1) / 2 for n in lengths) / total if total else 0.0


def train_flops_per_token(*, matmul_params: int, trainable: int, layers: int, hidden: int, context: float,
                          full: bool) -> float:
    forward = 2 * matmul_params + 4 * layers * hidden * context
    if full:
        return 3 * forward
    return 2 * 2 * matmul_params + 3 * 4 * layers * hidden * context + 6 * trainable


def matmul_params(config: object) -> int:
    """Weights in matrix multiplies of a Llama-style config (embeddings are a lookup, not a matmul)."""
    h = config.hidden_size
    heads = config.num_attention_heads
    kv = h * getattr(config, "num_key_value_heads", heads) // heads
    per_layer = h * (2 * h + 2 * kv) + 3 * h * config.intermediate_size
    return config.num_hidden_layers * per_layer + config.vocab_size * h
