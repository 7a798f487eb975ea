"""Exporter for causal-LM runs: adapter only (PEFT layout), merged into the base, or a full fine-tune.

Imports torch, transformers and peft: imported only to export or evaluate (see registry.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import OperationFailed
from spark_trainer.export.common import base_dir, base_reference, load_trainable, save_adapter
from spark_trainer.export.registry import ExportInfo
from spark_trainer.models.attention import for_inference
from spark_trainer.recipes.causal_lm import CausalLMConfig

PIPELINE_TAG = "text-generation"
_DTYPE_NAMES = {"torch.bfloat16": "bf16", "torch.float16": "fp16", "torch.float32": "fp32",
                "bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def base_dtype(model_dir: Path) -> str:
    """The dtype the base model's weights are stored in ("fp32" when the config does not say)."""
    import json

    data = json.loads((model_dir / "config.json").read_text())
    stored = data.get("dtype") or data.get("torch_dtype") or "float32"
    return _DTYPE_NAMES.get(str(stored), "fp32")


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load(config: ExperimentConfig, checkpoint: Path | None, device: Any = "cpu", dtype: str = "fp32",
         data_path: Path | None = None) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer): the base with the checkpoint's trained weights, as in training.

    QLoRA adapters are put on an unquantized base (what merging and exporting need). With
    `checkpoint` None, the plain base model.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from spark_trainer.recipes.causal_lm_model import adapt, torch_dtype

    model_dir = base_dir(config)
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=for_inference(model_dir),
                                                 local_files_only=True)
    if checkpoint is not None:
        rc = CausalLMConfig.model_validate(config.recipe_config)
        plain = rc.model_copy(update={"method": "lora" if rc.method == "qlora" else rc.method})
        model = adapt(model, plain)
        load_trainable(model, Path(checkpoint))
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner.config.use_cache = True
    model.to(device=torch.device(device) if isinstance(device, str) else device, dtype=torch_dtype(dtype))
    model.eval()
    return model, tokenizer


def weights_bytes_fp32(model_dir: Path) -> int:
    """What the base model's weights take once loaded in fp32 (as export loads them)."""
    stored = sum(p.stat().st_size for pattern in ("*.safetensors", "*.bin") for p in model_dir.glob(pattern))
    per_param = {"bf16": 2, "fp16": 2}.get(base_dtype(model_dir), 4)
    return stored * 4 // per_param


_WHY_LOADED = {  # why an export loads the whole base, and what to do when it does not fit
    "merged": ("merging the adapter into the base", "export the adapter alone (without --merge), or free memory"),
    "full": ("exporting the full fine-tune", "free memory"),
    "adapter": ("saving this adapter (its lm_head or embeddings are targeted, so peft saves the base's too)",
                "free memory"),
}


def check_memory(model_dir: Path, what: str, advice: str) -> None:
    """Refuse, in one line, an export that cannot fit in memory (RAM and free swap): loading it would
    only end with the process killed by the system (the whole app, for an export started there)."""
    import psutil

    from spark_trainer.disk import gb

    needed = int(weights_bytes_fp32(model_dir) * 1.1)  # a shard being written on top
    free = psutil.virtual_memory().available + psutil.swap_memory().free
    if needed > free:
        raise OperationFailed(f"{what} needs about {gb(needed)} of memory (the base model {model_dir.name} in "
                              f"fp32) and {gb(free)} is free: {advice} and try again")


def adapter_only(config: ExperimentConfig, checkpoint: Path) -> Any | None:
    """The run's PEFT model with only its adapter real: the base is built on the meta device (no
    weights read, no memory), and the checkpoint's trained tensors are put in place. Saving an
    adapter needs nothing else, and loading the base in fp32 to save a 40 MB adapter took 28 GB of
    memory for a 7B model and could not be done at all for a 70B QLoRA run. None when the
    checkpoint does not hold every adapter tensor (then the caller loads the base as before)."""
    import torch
    from accelerate import init_empty_weights
    from accelerate.utils import set_module_tensor_to_device
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    from spark_trainer.recipes.causal_lm_model import adapt

    rc = CausalLMConfig.model_validate(config.recipe_config)
    plain = rc.model_copy(update={"method": "lora" if rc.method == "qlora" else rc.method})
    with init_empty_weights():
        base = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base_dir(config), local_files_only=True))
        model = adapt(base, plain)
    named = dict(model.named_parameters())
    weights = load_file(str(Path(checkpoint) / "trainable.safetensors"))
    if not set(weights) <= set(named):
        return None  # load_trainable names what does not match
    for name, tensor in weights.items():
        set_module_tensor_to_device(model, name, "cpu", value=tensor.to(torch.float32))
    if any(t.is_meta for t in get_peft_model_state_dict(model).values()):
        return None
    return model


def write(config: ExperimentConfig, checkpoint: Path, dest: Path, *, merge: bool, dtype: str,
          data_path: Path | None = None) -> ExportInfo:
    """Write the Hugging Face folder for `checkpoint` into `dest` (safetensors, tokenizer, generation config)."""
    from transformers import GenerationConfig

    from spark_trainer.recipes.causal_lm_model import torch_dtype

    rc = CausalLMConfig.model_validate(config.recipe_config)
    model_dir = base_dir(config)
    if rc.method == "full":
        kind = "full"
    else:
        kind = "merged" if merge else "adapter"
    if dtype == "auto":
        dtype = "fp32" if kind == "adapter" else base_dtype(model_dir)
    model = adapter_only(config, checkpoint) if kind == "adapter" else None
    if model is None:
        check_memory(model_dir, *_WHY_LOADED[kind])
        model, tokenizer = load(config, checkpoint, "cpu", "fp32")
    else:
        tokenizer = load_tokenizer(model_dir)
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "adapter":
        model.to(torch_dtype(dtype))
        save_adapter(model, dest, config)
        try:
            GenerationConfig.from_pretrained(model_dir, local_files_only=True).save_pretrained(dest)
        except OSError:  # the base has no generation_config.json: nothing to carry over
            pass
    else:
        full = model.merge_and_unload() if kind == "merged" else model
        full.to(torch_dtype(dtype))
        full.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return ExportInfo(kind=kind, library_name="peft" if kind == "adapter" else "transformers",
                      pipeline_tag=PIPELINE_TAG, dtype=dtype, usage=_usage(kind, base_reference(config)))


def _usage(kind: str, base: str) -> str:
    if kind == "adapter":
        return ("from peft import PeftModel\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
                f'base = AutoModelForCausalLM.from_pretrained("{base}")\n'
                'model = PeftModel.from_pretrained(base, "EXPORT_DIR")\n'
                'tokenizer = AutoTokenizer.from_pretrained("EXPORT_DIR")')
    return ("from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            'model = AutoModelForCausalLM.from_pretrained("EXPORT_DIR")\n'
            'tokenizer = AutoTokenizer.from_pretrained("EXPORT_DIR")')
