"""Exporter for causal-LM runs: adapter only (PEFT layout), merged into the base, or a full fine-tune.

Imports torch, transformers and peft: imported only to export or evaluate (see registry.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.export.common import base_dir, base_reference, load_trainable, save_adapter
from spark_trainer.export.memory import WHY_LOADED, all_real, base_dtype, check_memory, make_real, trained_tensors
from spark_trainer.export.registry import ExportInfo
from spark_trainer.models.attention import for_inference
from spark_trainer.recipes.causal_lm import CausalLMConfig
from spark_trainer.recipes.causal_lm_formats import CHAT_FORMATS, describe, run_format, uses_template

PIPELINE_TAG = "text-generation"


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load(config: ExperimentConfig, checkpoint: Path | None, device: Any = "cpu", dtype: str = "fp32",
         data_path: Path | None = None, labels: list[str] | None = None) -> tuple[Any, Any]:
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


_WHY_LOADED = {**WHY_LOADED, "adapter": (
    "saving this adapter (its lm_head or embeddings are targeted, so peft saves the base's too)", "free memory")}


def adapter_only(config: ExperimentConfig, checkpoint: Path) -> Any | None:
    """The run's PEFT model with only its adapter real: the base is built on the meta device (no
    weights read, no memory), and the checkpoint's trained tensors are put in place. Saving an
    adapter needs nothing else, and loading the base in fp32 to save a 40 MB adapter took 28 GB of
    memory for a 7B model and could not be done at all for a 70B QLoRA run. None when the
    checkpoint does not hold every adapter tensor (then the caller loads the base as before)."""
    from accelerate import init_empty_weights
    from peft import get_peft_model_state_dict
    from transformers import AutoConfig, AutoModelForCausalLM

    from spark_trainer.recipes.causal_lm_model import adapt

    rc = CausalLMConfig.model_validate(config.recipe_config)
    plain = rc.model_copy(update={"method": "lora" if rc.method == "qlora" else rc.method})
    with init_empty_weights():
        base = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base_dir(config), local_files_only=True))
        model = adapt(base, plain)
    if not make_real(model, trained_tensors(checkpoint)) or not all_real(get_peft_model_state_dict(model)):
        return None
    return model


def write(config: ExperimentConfig, checkpoint: Path, dest: Path, *, merge: bool, dtype: str,
          data_path: Path | None = None, labels: list[str] | None = None) -> ExportInfo:
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
        check_memory([model_dir], model_dir.name, *_WHY_LOADED[kind],
                     checkpoint=checkpoint if kind == "full" else None)
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
                      pipeline_tag=PIPELINE_TAG, dtype=dtype, usage=_usage(kind, base_reference(config)),
                      prompt_format=prompt_format_text(rc, run_format(config.recipe_config, data_path)))


def prompt_format_text(rc: CausalLMConfig, fmt: str) -> str:
    """The card's words on how to prompt the model: the rows' format it trained on, with an example
    prompt for instruction formats (the model writes its answer after it)."""
    if uses_template(fmt):
        example = rc.template().prompt("Name three primary colours.")
        if rc.prompt_template is None:
            how = ("in the Alpaca template below (a row with an input also had an `### Input:` section after the "
                   "instruction)")
        else:
            how = "in the run's prompt template, as below"
        return (f"Trained on instruction rows of format {describe(fmt)}: each instruction was given {how}, and "
                "the answer trained after it, ending with the end-of-sequence token. Prompt it the same way; "
                f"for example:\n\n```text\n{example}```")
    if fmt in CHAT_FORMATS:
        return (f"Trained on chat conversations of format {describe(fmt)} through the tokenizer's chat template: "
                "prompt it with `tokenizer.apply_chat_template(messages, add_generation_prompt=True)`.")
    if fmt == "prompt-completion":
        return "Trained on prompt/completion rows: give it a prompt as written in the data; it writes the completion."
    return ""


def _usage(kind: str, base: str) -> str:
    if kind == "adapter":
        return ("from peft import PeftModel\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
                f'base = AutoModelForCausalLM.from_pretrained("{base}")\n'
                'model = PeftModel.from_pretrained(base, "EXPORT_DIR")\n'
                'tokenizer = AutoTokenizer.from_pretrained("EXPORT_DIR")')
    return ("from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            'model = AutoModelForCausalLM.from_pretrained("EXPORT_DIR")\n'
            'tokenizer = AutoTokenizer.from_pretrained("EXPORT_DIR")')
