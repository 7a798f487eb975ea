"""Peak GPU memory estimate for a fine-tuning run, a micro-batch that fits, and calibration.

The formula (all sizes in bytes; P = parameters of the base model, T = trainable parameters,
b = micro-batch, s = sequence length, h = hidden size, L = layers, V = vocabulary):

    weights      = P * w          w = 2 (bf16/fp16), 4 (fp32), 0.5625 (qlora: 4-bit NF4 + scales)
    trainable    = T * 16         fp32 master weight 4 + gradient 4 + AdamW moments 8
                                  (full fine-tuning: the weights term is then dropped, T = P)
    activations  = k * L * b * s * h * a     a = 34 bytes per element-layer in 16-bit, 68 in fp32
                                  (Korthikanti et al. 2022, "Reducing Activation Recomputation",
                                  with memory-efficient attention so no s^2 term); with gradient
                                  checkpointing only each layer's input is kept: a = 2 (4 in fp32),
                                  plus one layer's full activations recomputed at a time
    logits       = min(b*s, C / V) * V * 4 * 3   the loss runs in chunks of C = 1024 x 32,000
                                  logits (training/losses.py): one chunk's fp32 logits, their softmax
                                  gradient and a cast copy; b * s * V * 4 * 2 (all logits and their
                                  gradient) when the output head itself is adapted
    overhead     = c              CUDA context, allocator fragmentation, workspace
    scores       = b * H * s^2 * (L * w + 8)   only for eager attention (classes without sdpa: Bloom,
                                  MPT): each layer keeps its attention probabilities, plus the working
                                  layer's fp32 scores and softmax (one layer's with checkpointing)

fp32 stream  x 1.5 on activations (x 2 on the inputs kept with checkpointing) where the residual stream is
                                  fp32 in a 16-bit run: full fine-tuning (fp32 master weights, so fp32
                                  embeddings) and QLoRA (peft's prepare_model_for_kbit_training casts the
                                  norms and embeddings to fp32). Measured on an H200 (benchmarks/results/
                                  estimate_peaks_20261204-1301.json): activations 1.42x (1b QLoRA b8) and 1.59x (0.5B
                                  full b4) what the formula above gives LoRA's, which it fits to 4%.

k (activation scale) and c (overhead) are calibration constants: 1.0 and 0.5 GiB until measured.
`benchmarks/gpu_check.sh` measures real peaks on a GPU (benchmarks/measure_peaks.py, written to
benchmarks/results/estimate_peaks.json) and `benchmarks/calibrate_estimate.py` fits k and c to them
by least squares (`fit_calibration`), writing spark_trainer/estimate_calibration.py, which this
module reads. A measured peak is the allocator's reserved peak plus the CUDA context, i.e. what the
run takes from the GPU's free memory. The shipped constants were fitted to the first lease's peaks
(estimate_peaks_20261204-1301.json, the whole model compiled as one graph) held the second lease's peaks, with
the blocks compiled one by one (estimate_peaks_20261204-1535.json), within -10%..+5%. The third lease's
(estimate_peaks.json) have the blocks partitioned under the activation budget, a third less activation memory:
the constants are fitted to them (+3%, -3%, +3%, +14%; leaving each point out of the fit, at most 15% off it).
Those are compiled runs; a run that is not compiled is estimated with `EAGER_ACTIVATION_SCALE`.

LoRA trainable parameters for a Llama-style block: r * (9h + 2*kv + 3i) per layer for all-linear
targets (q, k, v, o, gate, up, down: the sum of each adapted matrix's in + out features), where kv
is the key/value width and i the MLP width; DoRA adds one magnitude per output feature.

Classification recipes: the logits term is b * classes (a head, not a vocabulary) and s is the
longest text kept (`recipe_config.max_length`; batches are padded only to their longest text) or,
for a ViT-style image model, its patches per image plus one: (image_size / patch_size)^2 + 1. Image
classifiers without such layers (ResNet, ConvNeXt) are estimated by spark_trainer/estimate_vision.py:
from config.json for ResNet and ConvNeXt (estimate_convnets.py, no torch), else by counting their
activations in a forward pass on the meta device.

`estimate_measured.compare_measured` puts the estimate next to the peaks runs actually reported so the
user can judge it; `suggest_micro_batch` is the largest micro-batch whose estimate fits in 90% of a GPU's free memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.training.losses import CHUNK_LOGITS

GIB = 1024**3
OVERHEAD_BYTES = int(0.5 * GIB)
FIT_FRACTION = 0.9  # a suggested micro-batch leaves 10% of the free memory unused
# Activations where a 16-bit run's residual stream is fp32 (full fine-tuning, QLoRA), against the formula's
# 16-bit ones: the middle of 1.42 and 1.59 measured on an H200 (module docstring).
FP32_STREAM = 1.5
# The activation scale of a run that is not compiled (train.compile false, FSDP, the packaged app): the
# calibration is fitted to compiled runs, whose transformer blocks keep a third less since they are partitioned
# under an activation budget (training/compiling.py); an eager run keeps at least what a compiled run without
# that budget did (a fitted scale of 0.90 on the first lease). Not yet measured eagerly: the formula's own.
EAGER_ACTIVATION_SCALE = 1.0
METHODS = ("lora", "qlora", "dora", "full")


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a transformer that drive memory; read from a model folder's config.json."""

    num_params: int
    hidden_size: int
    num_layers: int
    intermediate_size: int
    vocab_size: int
    kv_size: int
    num_heads: int = 1

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
        try:
            h = int(text.get("hidden_size") or text.get("n_embd") or text["d_model"])
            n_layers = int(text.get("num_hidden_layers") or text.get("n_layer") or text.get("n_layers")
                           or text["num_layers"])
        except (KeyError, TypeError, ValueError):
            raise BadInput("config.json has no hidden_size / num_hidden_layers; cannot estimate memory") from None
        # MPT says n_layers, n_heads and an MLP width as expansion_ratio x d_model.
        inter = int(text.get("intermediate_size") or text.get("n_inner") or (text.get("expansion_ratio") or 4) * h)
        vocab = int(text.get("vocab_size") or 32000)
        heads = int(text.get("num_attention_heads") or text.get("n_head") or text.get("n_heads") or 1)
        kv_heads = int(text.get("num_key_value_heads") or heads)
        kv = h * kv_heads // max(heads, 1)
        per_layer = h * (2 * h + 2 * kv) + 3 * h * inter + 2 * h  # attention, gated MLP, norms
        embeddings = vocab * h * (1 if config.get("tie_word_embeddings", False) else 2)
        return cls(n_layers * per_layer + embeddings + h, h, n_layers, inter, vocab, kv, heads)

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
class Calibration:
    """Constants fitted to measured peaks: estimate = fixed parts + activation_scale * activations + overhead."""

    activation_scale: float = 1.0
    overhead_bytes: int = OVERHEAD_BYTES
    measured_points: int = 0  # how many measured peaks the constants were fitted to (0: defaults)
    source: str = "defaults (no GPU measurements yet)"


def current_calibration() -> Calibration:
    """The fitted constants shipped in spark_trainer/estimate_calibration.py, or the defaults."""
    try:
        from spark_trainer import estimate_calibration
    except ImportError:
        return Calibration()
    data = estimate_calibration.CALIBRATION
    return Calibration(float(data["activation_scale"]), int(data["overhead_bytes"]), int(data["measured_points"]),
                       str(data["source"]))


def fit_calibration(points: list[dict[str, Any]], source: str = "") -> Calibration:
    """Least-squares k and c from measured peaks: each point has `measured_bytes` and the estimate's
    `parts` (as computed with k = 1, c = 0). Needs at least two points with different activations."""
    if len(points) < 2:
        raise BadInput(f"calibration needs at least 2 measured peaks, got {len(points)}")
    xs = [float(p["parts"]["activations"]) for p in points]
    ys = [float(p["measured_bytes"]) - sum(float(v) for k, v in p["parts"].items()
                                           if k not in ("activations", "overhead")) for p in points]
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise BadInput("calibration needs measured peaks with different activation sizes")
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    c = my - k * mx
    if k <= 0 or c < 0:  # not physical: keep the scale, take the overhead as the mean residual
        k = max(k, 0.1)
        c = max(0.0, sum(y - k * x for x, y in zip(xs, ys, strict=True)) / n)
    return Calibration(round(k, 4), int(c), n, source or f"{n} measured peaks")


@dataclass(frozen=True)
class MemoryEstimate:
    total_bytes: int
    parts: dict[str, int] = field(default_factory=dict)
    trainable_params: int = 0

    @property
    def total_gib(self) -> float:
        return self.total_bytes / GIB

    def shown_parts(self) -> list[tuple[str, int]]:
        """The parts as `spark-trainer estimate` and the setup form name them: none of 0 bytes (full
        fine-tuning's "weights 0 B" read as a mistake: its weights are counted with their fp32 master
        copy, gradients and optimizer moments, and named so)."""
        full = self.parts.get("weights") == 0 and "trainable+optimizer" in self.parts
        return [("weights+gradients+optimizer" if full and name == "trainable+optimizer" else name, value)
                for name, value in self.parts.items() if value]

    def describe(self) -> str:
        pieces = ", ".join(f"{name} {value / GIB:.2f}" for name, value in self.shown_parts())
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
    head_adapted: bool = False,
    calibration: Calibration | None = None,
    outputs: int | None = None,
    eager_attention: bool = False,
    compiled: bool = True,
) -> MemoryEstimate:
    """Peak GPU memory of one training process (see the module docstring for the formula).

    `head_adapted`: the output head carries adapters (target_modules names it), so the loss needs
    the full logits. `calibration`: fitted constants (default: `current_calibration()`).
    `outputs`: logits per row for a classifier head (None: one per token over the vocabulary).
    `eager_attention`: the model trains with eager attention, which keeps each layer's attention
    probabilities (see `attention_scores`). `compiled`: the run compiles its model (the calibration's
    scale; else at least `EAGER_ACTIVATION_SCALE`).
    """
    cal = calibration or current_calibration()
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
    stream = FP32_STREAM if method in ("full", "qlora") and not wide else 1.0
    layer = tokens * shape.hidden_size * (68 if wide else 34) * stream  # one layer's full activations
    if gradient_checkpointing:  # each layer's input (the residual stream) kept, one layer recomputed at a time
        activations = shape.num_layers * tokens * shape.hidden_size * (4 if wide or stream > 1 else 2) + layer
    else:
        activations = shape.num_layers * layer
    activations = int(activations * (cal.activation_scale if compiled else max(cal.activation_scale, EAGER_ACTIVATION_SCALE)))
    if outputs is not None:  # a classifier head: a few logits per row, not a vocabulary per token
        logits = batch_size * outputs * 4 * 2
    elif head_adapted:
        logits = tokens * shape.vocab_size * 4 * 2
    else:
        logits = min(tokens, max(1, CHUNK_LOGITS // shape.vocab_size)) * shape.vocab_size * 4 * 3
        if method == "full":  # the loss's fp32 gradient accumulator for the head weight
            logits += shape.vocab_size * shape.hidden_size * 4
    parts = {"weights": weights, "trainable+optimizer": optimizer, "activations": activations,
             "logits": logits, "overhead": cal.overhead_bytes}
    if eager_attention:
        parts["attention scores"] = attention_scores(shape, batch_size, seq_len, wide, gradient_checkpointing)
    return MemoryEstimate(sum(parts.values()), parts, trainable)


def attention_scores(shape: ModelShape, batch_size: int, seq_len: int, wide: bool, gradient_checkpointing: bool) -> int:
    """Eager attention's s^2 term: each layer keeps its attention probabilities (b x heads x s x s in
    the compute dtype) for the backward pass, all layers at once unless checkpointed, and the layer at
    work holds its scores and softmax in fp32 besides."""
    scores = batch_size * shape.num_heads * seq_len * seq_len
    kept = shape.num_layers if not gradient_checkpointing else 1
    return scores * (kept * (4 if wide else 2) + 2 * 4)


def _eager_attention(config: dict[str, Any], base_model_dir: str | Path, seq_len: int) -> bool:
    """Whether a causal LM trains with eager attention on a GPU (a class without sdpa, e.g. Bloom,
    MPT, or Gemma 2 with rows longer than its window), as the recipe chooses it. The facts are read
    from config.json (`config_facts`: no torch or transformers import, which stalled the setup form's
    GUI thread); transformers is asked only for an architecture that module does not know."""
    from spark_trainer.models.attention import facts, training_choice
    from spark_trainer.models.config_facts import read_facts
    from spark_trainer.recipes.causal_lm_impl import attention_for

    try:
        model = read_facts(base_model_dir) or facts(base_model_dir)
    except (OSError, ValueError, KeyError):  # a config transformers cannot read: the recipe would fail anyway
        return False
    wanted = attention_for(str((config.get("recipe_config") or {}).get("attention") or "auto"),
                           (config.get("train") or {}).get("compile", "auto"), "cuda")
    return training_choice(wanted, model, seq_len)[0] == "eager"


def _head_adapted(target_modules: Any) -> bool:
    names = target_modules.split(",") if isinstance(target_modules, str) else list(target_modules or [])
    return any(str(n).strip() == "lm_head" for n in names)


def estimate_for_config(config: dict[str, Any], base_model_dir: str | Path, *, batch_size: int | None = None,
                        calibration: Calibration | None = None) -> MemoryEstimate:
    """The estimate for a run-file mapping (as `spark-trainer train` reads) and its model folder; the
    setup form and `spark-trainer estimate` both show this number. `batch_size` overrides the file's."""
    if (Path(base_model_dir) / "model_index.json").is_file():  # a diffusers pipeline (diffusion-lora)
        from spark_trainer.estimate_diffusion import estimate_diffusion_config

        if batch_size is not None:
            config = {**config, "train": {**(config.get("train") or {}), "batch_size": batch_size}}
        return estimate_diffusion_config(config, base_model_dir)
    from spark_trainer.config.legacy import upgrade

    config, _ = upgrade(config)  # stored configs of runs from before seq_len moved into recipe_config
    train = config.get("train") or {}
    recipe = config.get("recipe_config") or {}
    precision = str(train.get("precision") or "auto")
    seq_len, outputs = int(recipe.get("seq_len") or 512), None
    if config.get("recipe") == "text-classification":
        seq_len, outputs = int(recipe.get("max_length") or 256), 64  # a head of at most tens of classes
    elif config.get("recipe") == "image-classification":
        from spark_trainer.estimate_vision import estimate_image_classifier, has_patches

        if not has_patches(base_model_dir):  # a convolutional classifier: its activations are counted
            return estimate_image_classifier(
                base_model_dir, method=str(recipe.get("method") or "lora"),
                batch_size=batch_size or int(train.get("batch_size") or 8),
                precision="bf16" if precision == "auto" else precision, lora_r=int(recipe.get("lora_r") or 16),
                target_modules=recipe.get("target_modules") or "all-linear")
        seq_len, outputs = _patches(base_model_dir), 64
    eager = config.get("recipe") == "causal-lm" and _eager_attention(config, base_model_dir, seq_len)
    return estimate_peak_memory(
        ModelShape.from_folder(base_model_dir),
        method=str(recipe.get("method") or "lora"),
        batch_size=batch_size or int(train.get("batch_size") or 8),
        seq_len=seq_len, outputs=outputs,
        precision="bf16" if precision == "auto" else precision,
        lora_r=int(recipe.get("lora_r") or 16),
        gradient_checkpointing=bool(train.get("gradient_checkpointing", False)),
        head_adapted=_head_adapted(recipe.get("target_modules", "all-linear")),
        calibration=calibration, eager_attention=eager, compiled=_compiles(train),
    )


def _compiles(train: dict[str, Any]) -> bool:
    """Whether the run's model will be compiled on a GPU (training/compiling.py): not when the file turns it
    off, under FSDP, or where kernels cannot be built (the packaged app)."""
    from spark_trainer.training.compiling import wanted

    setting = train.get("compile", "auto")
    return train.get("sharding") != "fsdp" and wanted(setting if isinstance(setting, bool) else str(setting), "cuda")


def _patches(folder: str | Path) -> int:
    """Tokens per image of a ViT-style model (`estimate_vision.has_patches`)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
        return (int(config["image_size"]) // int(config["patch_size"])) ** 2 + 1
    except (OSError, ValueError, KeyError, TypeError):
        raise BadInput(f"{folder}: config.json has no image_size / patch_size") from None


@dataclass(frozen=True)
class MicroBatchPlan:
    """The largest micro-batch (up to the effective batch) whose estimate fits in `budget_bytes`."""

    micro_batch: int | None  # None: not even a micro-batch of 1 fits
    grad_accum: int
    effective_batch: int
    estimate: MemoryEstimate | None
    budget_bytes: int


def suggest_micro_batch(config: dict[str, Any], base_model_dir: str | Path, free_bytes: int,
                        fraction: float = FIT_FRACTION) -> MicroBatchPlan:
    """The largest micro-batch <= batch_size * grad_accum whose estimate fits in `fraction` of
    `free_bytes`, with the grad_accum that keeps the effective batch (rounded up)."""
    train = config.get("train") or {}
    effective = int(train.get("batch_size") or 8) * int(train.get("grad_accum") or 1)
    budget = int(free_bytes * fraction)
    low, high, best = 1, effective, None
    while low <= high:  # the estimate grows with the micro-batch
        mid = (low + high) // 2
        found = estimate_for_config(config, base_model_dir, batch_size=mid)
        if found.total_bytes <= budget:
            best, low = (mid, found), mid + 1
        else:
            high = mid - 1
    if best is None:
        return MicroBatchPlan(None, 1, effective, None, budget)
    micro, found = best
    return MicroBatchPlan(micro, -(-effective // micro), effective, found, budget)
