"""Peak GPU memory estimate for a fine-tuning run, and how it compares with measured peaks.

The formula (all sizes in bytes; P = parameters of the base model, T = trainable parameters,
b = micro-batch, s = sequence length, h = hidden size, L = layers, V = vocabulary):

    weights      = P * w          w = 2 (bf16/fp16), 4 (fp32), 0.5625 (qlora: 4-bit NF4 + scales)
    trainable    = T * 16         fp32 master weight 4 + gradient 4 + AdamW moments 8
                                  (full fine-tuning: the weights term is then dropped, T = P)
    activations  = L * b * s * h * a     a = 34 bytes per element-layer in 16-bit, 68 in fp32
                                  (Korthikanti et al. 2022, "Reducing Activation Recomputation",
                                  with memory-efficient attention so no s^2 term); with gradient
                                  checkpointing only each layer's input is kept: a = 2 (4 in fp32),
                                  plus one layer's full activations recomputed at a time
    logits       = b * s * V * 4 * 2      fp32 logits and their gradient for the loss
    overhead     = 0.5 GiB                CUDA context, allocator fragmentation, workspace

LoRA trainable parameters for a Llama-style block: r * (9h + 2*kv + 3i) per layer for all-linear
targets (q, k, v, o, gate, up, down: the sum of each adapted matrix's in + out features), where kv
is the key/value width and i the MLP width; DoRA adds one magnitude per output feature.

It is an estimate for planning (within tens of percent on Llama-style models); `compare_measured`
puts it next to the peaks runs actually reported so the user can judge it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput

GIB = 1024**3
OVERHEAD_BYTES = int(0.5 * GIB)
METHODS = ("lora", "qlora", "dora", "full")
# Metric keys a worker may use for the measured peak (bytes, or GiB/MiB by suffix).
MEASURED_KEYS = ("gpu_mem_gb", "gpu_mem_peak", "gpu_mem_peak_bytes", "gpu_mem_peak_gb", "gpu_mem_peak_gib", "gpu_mem_peak_mb")


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a transformer that drive memory; read from a model folder's config.json."""

    num_params: int
    hidden_size: int
    num_layers: int
    intermediate_size: int
    vocab_size: int
    kv_size: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
        try:
            h = int(text.get("hidden_size") or text.get("n_embd") or text["d_model"])
            n_layers = int(text.get("num_hidden_layers") or text.get("n_layer") or text["num_layers"])
        except (KeyError, TypeError, ValueError):
            raise BadInput("config.json has no hidden_size / num_hidden_layers; cannot estimate memory") from None
        inter = int(text.get("intermediate_size") or text.get("n_inner") or 4 * h)
        vocab = int(text.get("vocab_size") or 32000)
        heads = int(text.get("num_attention_heads") or text.get("n_head") or 1)
        kv_heads = int(text.get("num_key_value_heads") or heads)
        kv = h * kv_heads // max(heads, 1)
        per_layer = h * (2 * h + 2 * kv) + 3 * h * inter + 2 * h  # attention, gated MLP, norms
        embeddings = vocab * h * (1 if config.get("tie_word_embeddings", False) else 2)
        return cls(n_layers * per_layer + embeddings + h, h, n_layers, inter, vocab, kv)

    @classmethod
    def from_folder(cls, folder: str | Path) -> ModelShape:
        path = Path(folder) / "config.json"
        try:
            config = json.loads(path.read_text())
        except FileNotFoundError:
            raise BadInput(f"{folder} has no config.json; choose a Hugging Face model folder") from None
        except (OSError, ValueError) as exc:
            raise BadInput(f"{path} cannot be read: {exc}") from None
        return cls.from_config(config)


@dataclass(frozen=True)
class MemoryEstimate:
    total_bytes: int
    parts: dict[str, int] = field(default_factory=dict)
    trainable_params: int = 0

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    def describe(self) -> str:
        pieces = ", ".join(f"{name} {value / GIB:.2f}" for name, value in self.parts.items())
        return f"~{self.total_gib:.2f} GiB ({pieces} GiB)"


def lora_params(shape: ModelShape, rank: int, method: str = "lora") -> int:
    per_layer = rank * (9 * shape.hidden_size + 2 * shape.kv_size + 3 * shape.intermediate_size)
    if method == "dora":  # a magnitude vector per adapted output feature
        per_layer += 4 * shape.hidden_size + 2 * shape.kv_size + 2 * shape.intermediate_size
    return shape.num_layers * per_layer


def estimate_peak_memory(
    shape: ModelShape,
    *,
    method: str = "lora",
    batch_size: int = 8,
    seq_len: int = 512,
    precision: str = "bf16",
    lora_r: int = 16,
    gradient_checkpointing: bool = False,
) -> MemoryEstimate:
    """Peak GPU memory of one training process (see the module docstring for the formula)."""
    if method not in METHODS:
        raise BadInput(f"method {method!r} is not one of: {', '.join(METHODS)}")
    if batch_size < 1 or seq_len < 1:
        raise BadInput("batch size and sequence length must be at least 1")
    wide = precision == "fp32"
    weight_bytes = 4 if wide else 2
    if method == "full":
        trainable = shape.num_params
        weights = 0  # the fp32 master copy in `trainable` is the weights
    else:
        trainable = lora_params(shape, lora_r, method)
        weights = int(shape.num_params * (0.5625 if method == "qlora" else weight_bytes))
    optimizer = trainable * 16
    tokens = batch_size * seq_len
    act_unit = (4 if wide else 2) if gradient_checkpointing else (68 if wide else 34)
    activations = shape.num_layers * tokens * shape.hidden_size * act_unit
    if gradient_checkpointing:
        activations += tokens * shape.hidden_size * (68 if wide else 34)
    logits = tokens * shape.vocab_size * 4 * 2
    parts = {"weights": weights, "trainable+optimizer": optimizer, "activations": activations,
             "logits": logits, "overhead": OVERHEAD_BYTES}
    return MemoryEstimate(sum(parts.values()), parts, trainable)


def estimate_for_config(config: dict[str, Any], base_model_dir: str | Path) -> MemoryEstimate:
    """The estimate for a run-file mapping (as `spark-trainer train` reads) and its model folder."""
    if (Path(base_model_dir) / "model_index.json").is_file():  # a diffusers pipeline (diffusion-lora)
        from spark_trainer.estimate_diffusion import estimate_diffusion_config

        return estimate_diffusion_config(config, base_model_dir)
    train = config.get("train") or {}
    recipe = config.get("recipe_config") or {}
    precision = str(train.get("precision") or "auto")
    return estimate_peak_memory(
        ModelShape.from_folder(base_model_dir),
        method=str(recipe.get("method") or "lora"),
        batch_size=int(train.get("batch_size") or 8),
        seq_len=int(train.get("seq_len") or 512),
        precision="bf16" if precision == "auto" else precision,
        lora_r=int(recipe.get("lora_r") or 16),
        gradient_checkpointing=bool(train.get("gradient_checkpointing", False)),
    )


def measured_bytes(key: str, value: float) -> int:
    """A measured-peak metric value in bytes, whatever unit its key names."""
    lowered = key.lower()
    if lowered.endswith(("_gb", "_gib")):
        return int(value * GIB)
    if lowered.endswith("_mb"):
        return int(value * 1024**2)
    return int(value)


@dataclass(frozen=True)
class MeasuredPeak:
    run_id: int
    measured_bytes: int
    estimated_bytes: int | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """measured / estimated (1.0 = exact)."""
        if not self.estimated_bytes:
            return None
        return self.measured_bytes / self.estimated_bytes


def compare_measured(store: Any, limit: int = 20) -> list[MeasuredPeak]:
    """Runs that reported a peak-memory metric, each with what the formula says for its config."""
    from sqlalchemy import func, select

    from spark_trainer.store import experiments, runs
    from spark_trainer.store.models import MetricRow

    with store.read() as session:
        query = (select(MetricRow.run_id, MetricRow.key, func.max(MetricRow.value))
                 .where(MetricRow.key.in_(MEASURED_KEYS)).group_by(MetricRow.run_id, MetricRow.key)
                 .order_by(MetricRow.run_id.desc()).limit(limit))
        found = list(session.execute(query))
    result = []
    for run_id, key, value in found:
        measured = measured_bytes(key, float(value))
        run = runs.get(store, run_id)
        experiment = experiments.get(store, run.experiment_id)
        try:
            estimate = estimate_for_config(experiment.config, experiment.base_model).total_bytes
            note = ""
        except BadInput as exc:
            estimate, note = None, str(exc)
        result.append(MeasuredPeak(run_id, measured, estimate, note))
    return result
