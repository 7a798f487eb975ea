"""Causal-LM model pieces shared by the recipe and the benchmark: building, adapting, loss, samples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from spark_trainer.models import attention
from spark_trainer.recipes import lora_targets
from spark_trainer.recipes.causal_lm import CausalLMConfig
from spark_trainer.training import varlen
from spark_trainer.training.kernels import apply_fused_kernels
from spark_trainer.training.losses import find_hidden_head, install_hidden_head, linear_cross_entropy, logits_out
from spark_trainer.training.packing import IGNORE, block_causal_mask, flex_block_mask

ATTENTION_NOTES = {
    "flex_attention": "flex attention with a document block mask (examples apart)",
    "sdpa": "sdpa with a block-diagonal mask per row (examples apart)",
    varlen.ATTENTION: "varlen, sdpa on each example alone, examples of similar length batched (examples apart)",
}


def attention_note(attn: str, model_masks: bool, window: int | None, packed: bool) -> str:
    """The run log's line for the attention a run trains with."""
    if not model_masks:
        return f"attention: {ATTENTION_NOTES.get(attn, attn)}"
    why = f"for its {window}-token sliding window" if window is not None else f"{attn} takes no mask of ours"
    apart = ", packed examples told apart by their position ids" if packed else ""
    return f"attention: {attn} with masks the model builds for each layer ({why}){apart}"


def attention_for(setting: str, compile_setting: bool | str, device_type: str) -> str:
    """The transformers attention implementation a run trains with (`recipe_config.attention`)."""
    from spark_trainer.training import compiling

    wanted = setting
    if wanted == "auto":
        if device_type == "cuda" and compiling.cannot_build() is None:
            return "flex_attention"  # compiled by transformers itself, whatever train.compile says
        # varlen's shapes change from batch to batch: a compiled model would recompile every step.
        wanted = "sdpa" if compiling.wanted(compile_setting, device_type) else "varlen"
    return {"flex": "flex_attention", "sdpa": "sdpa", "varlen": varlen.ATTENTION}[wanted]


def bos_prefix(tokenizer: Any) -> list[int]:
    """[BOS] when the tokenizer starts a text with it by itself (Llama, Mistral, Gemma), else [] (GPT-2,
    Pythia; Qwen has none): rows, prompts and evaluations are encoded as `tokenizer(text)` encodes them,
    so an exported model prompted the plain way sees what it was trained on."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    ids = tokenizer("a")["input_ids"]
    return [bos] if ids and ids[0] == bos else []


def bos_ids(tokenizer: Any, rule: str) -> list[int]:
    """The BOS a row or prompt starts with under `recipe_config.bos_token`: "tokenizer" (`bos_prefix`) or
    "always" (the tokenizer's BOS, when it has one)."""
    if rule == "always":
        return [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos_prefix(tokenizer)


def torch_dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def load_model(model_dir: Path, rc: CausalLMConfig, device: Any, precision: str, attn: str, *,
               gradient_checkpointing: bool = False, notes: list[str] | None = None) -> Any:
    """Load the base model and wrap it for the chosen method (LoRA, DoRA, QLoRA or full); lines for
    the run's log are appended to `notes`."""
    import torch
    from transformers import AutoModelForCausalLM

    if attn == varlen.ATTENTION:
        varlen.register()
    kwargs: dict[str, Any] = {"attn_implementation": attn, "local_files_only": True}
    # Full fine-tuning keeps fp32 master weights (autocast computes in bf16/fp16); adapters train
    # in fp32 on a frozen base stored in the compute dtype, which halves the base's memory.
    weights = torch.float32 if rc.method == "full" else torch_dtype(precision)
    if rc.method == "qlora":
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if precision != "fp16" else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute,
            bnb_4bit_use_double_quant=True)
        kwargs["device_map"] = {"": "cpu" if device.type == "cpu" else (device.index or 0)}
        weights = compute
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=weights, **kwargs)
    if rc.method != "qlora":
        model.to(device)
    elif device.type == "cpu":
        keep_cpu_4bit_trainable(model)
    kernels_note = apply_fused_kernels(model, device.type)
    if kernels_note and notes is not None:
        notes.append(kernels_note)
    model = adapt(model, rc, gradient_checkpointing=gradient_checkpointing)
    # The loss never materialises full logits (see training/losses.py).
    install_hidden_head(model, device.type)
    return model


def keep_cpu_4bit_trainable(model: Any) -> None:
    """On a CPU with AVX512-BF16, bitsandbytes' Linear4bit repacks its weight for a faster CPU kernel at
    its first forward pass in eval mode without gradients (an evaluation, a sample), and from then on
    trains through that kernel, which has no backward: the layers below it got no gradient (bitsandbytes
    warns "an autograd kernel was not registered"), and a CPU QLoRA run evaluated every 4 steps trained
    differently from one never evaluated. The repacking is turned off for a run's model."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def adapt(model: Any, rc: CausalLMConfig, *, gradient_checkpointing: bool = False) -> Any:
    """Freeze and wrap `model` with LoRA/DoRA adapters (or leave it whole for full fine-tuning)."""
    model.config.use_cache = False
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if rc.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    if rc.method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    targets = lora_targets.parse(rc.target_modules)
    lora_targets.check(model, targets)
    lora = LoraConfig(r=rc.lora_r, lora_alpha=rc.lora_alpha,  # type: ignore[arg-type]  # any number works
                      lora_dropout=rc.lora_dropout,
                      target_modules=targets, use_dora=rc.method == "dora", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    if gradient_checkpointing:
        model.enable_input_require_grads()
    return model


def forward(model: Any, batch: dict[str, Any], attn: str, *, model_masks: bool = False) -> Any:
    """The model's output (logits, or final hidden states under a HiddenHead) for a packed batch.

    Examples are kept apart by a varlen plan, by our block-diagonal mask (a flex BlockMask for flex
    attention), or with `model_masks` by no mask at all: the model then builds its own for each kind
    of layer (sliding windows included) and tells packed examples apart by their position ids, which
    restart at every example (transformers' packed-sequence masks; needs `use_cache=False`)."""
    segments = batch["segment_ids"]
    extra: dict[str, Any] = {}
    if attn == varlen.ATTENTION:
        extra["varlen_plan"] = varlen.plan(segments)
    elif not model_masks:
        extra["attention_mask"] = flex_block_mask(segments) if attn == "flex_attention" else block_causal_mask(segments)
    return model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False, **extra).logits


def packed_loss(model: Any, batch: dict[str, Any], attn: str, *, model_masks: bool = False) -> tuple[Any, Any]:
    """(sum of token losses, target count) of a packed micro-batch; examples never see each other."""
    import torch.nn.functional as F

    out = forward(model, batch, attn, model_masks=model_masks)
    targets = batch["targets"]
    head = find_hidden_head(model)
    if head is not None and head.emit_hidden:  # `out` holds the final hidden states
        loss_sum = linear_cross_entropy(out, head.weight, targets, head.bias, kernel=head.kernel)
    else:
        loss_sum = F.cross_entropy(out.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE,
                                   reduction="sum")
    return loss_sum, (targets != IGNORE).sum()


# The least move of the second example's next-token distributions (total variation distance, 0..1,
# averaged over its tokens) that counts as a leak when a first example shares its row, by weight
# dtype; a move under ten times the rounding noise measured on the same shapes does not count either.
LEAK_FLOOR = {"float32": 1e-5, "other": 2e-3}
# Model types whose packed examples see each other when the model builds its own masks, whatever the
# check below measures: Bloom's ALiBi and OPT's learned positions count from the row's start, MPT builds
# one causal mask for the row. The check can miss a small leak in 16-bit (a random-weight Bloom in bf16
# moves the second example's distributions less than the floor), so these never rely on it.
MIX_PACKED_EXAMPLES = frozenset({"bloom", "mpt", "opt"})


def examples_stay_apart(model: Any, attn: str, *, model_masks: bool, window: int | None) -> bool:
    """Whether `model` keeps packed examples apart on this attention path: the second of two examples
    sharing a row (the first longer than the model's window, if it has one) predicts what it predicts
    alone. Some architectures build their masks or positions their own way and do not (OPT's learned
    positions, MPT, Bloom's ALiBi, gpt-oss when the model builds the masks).

    Rounding differs between shapes (16-bit kernels tile them differently): the example alone at the
    start of a row of the same width, against it alone and unpadded, measures that noise."""
    import torch

    from spark_trainer.training.packing import Example, collate

    param = next(model.parameters())
    text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    vocab = int(text.vocab_size)
    gen = torch.Generator().manual_seed(0)
    # Longer than the window, within the model's positions (the row's first example starts at 0).
    first_len = min(max(12, (window or 0) + 4), 4096, int(getattr(text, "max_position_embeddings", None) or 4096))
    width = first_len + 12
    first, second = (Example(torch.randint(0, vocab, (n,), generator=gen).tolist(), [True] * n) for n in (first_len, 8))
    batches = {"shared": collate([[first, second]], 0, pad_to=width), "padded": collate([[second]], 0, pad_to=width),
               "alone": collate([[second]], 0)}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), logits_out(model):
            out = {name: forward(model, {k: v.to(param.device) for k, v in batch.items()}, attn, model_masks=model_masks)
                   for name, batch in batches.items()}
    finally:
        model.train(was_training)
    probs = {"shared": out["shared"][0, first_len:first_len + 8], "padded": out["padded"][0, :8],
             "alone": out["alone"][0, :8]}
    probs = {name: p.float().softmax(-1) for name, p in probs.items()}

    def moved(a: Any, b: Any) -> float:
        return float(0.5 * (a - b).abs().sum(-1).mean())

    noise = moved(probs["padded"], probs["alone"])
    floor = LEAK_FLOOR["float32" if param.dtype == torch.float32 else "other"]
    return moved(probs["shared"], probs["alone"]) <= max(floor, 10 * noise)


def generate(model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int = 32,
             wrap: Callable[[str], str] | None = None) -> list[dict[str, str]]:
    """Greedy continuations of fixed prompts (with sdpa attention, or eager where the model has no
    sdpa, whatever trains); `wrap` puts each in the run's prompt template first."""
    import torch

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    before = inner.config._attn_implementation
    plain = attention.for_inference(type(inner))
    if before != plain:
        inner.set_attn_implementation(plain)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    samples = []
    try:
        with torch.no_grad(), logits_out(model):
            for prompt in prompts:
                text = wrap(prompt) if wrap is not None else prompt
                ids = bos_prefix(tokenizer) + list(tokenizer(text, add_special_tokens=False)["input_ids"])
                input_ids = torch.tensor([ids], device=device)
                out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                     max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                     pad_token_id=tokenizer.pad_token_id)
                text = tokenizer.decode(out[0, input_ids.shape[1]:], skip_special_tokens=True)
                samples.append({"prompt": prompt, "completion": text})
    finally:
        if before != plain:
            inner.set_attn_implementation(before)
        model.train(was_training)
    return samples
