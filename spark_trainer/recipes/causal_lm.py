"""Causal-LM fine-tuning recipe: LoRA, QLoRA, DoRA or full fine-tuning on text, prompt/completion,
chat, ShareGPT or instruction (Alpaca-style) data. This module declares the config; the implementation
is imported only to train."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from spark_trainer.config.schema import Settings
from spark_trainer.recipes import causal_lm_formats as formats
from spark_trainer.recipes.base import MetricSpec
from spark_trainer.recipes.fit import DataFacts, needs_text_model
from spark_trainer.recipes.lora_targets import TargetModules
from spark_trainer.recipes.registry import RecipeSpec

Format = Literal["auto", "mixed", "text", "prompt-completion", "messages", "sharegpt", "alpaca", "dolly",
                 "question-answer", "prompt-response"]


class CausalLMConfig(Settings):
    method: Literal["lora", "qlora", "dora", "full"] = Field("lora", description="Fine-tuning method")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank")
    lora_alpha: float = Field(32, gt=0, le=4096, description="LoRA scaling numerator (alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA path")
    target_modules: TargetModules = Field(
        "all-linear", description="Modules to adapt: all-linear, or a list of module names"
    )
    seq_len: int = Field(512, ge=8, le=1_048_576, description="Tokens per row: longer examples are truncated; "
                         "packed rows hold up to this many tokens")
    packing: bool = Field(True, description="Pack examples into full rows; examples never attend to each other")
    completion_only_loss: bool = Field(
        True, description="For prompt/completion, instruction (Alpaca...) and chat data, train only on the "
        "completions (answers, assistant turns)"
    )
    attention: Literal["auto", "flex", "varlen", "sdpa"] = Field(
        "auto", description="Attention kernel: auto picks flex attention (document BlockMask) on CUDA and "
        "varlen elsewhere (sdpa when torch.compile is on); varlen: sdpa on each example alone, examples of "
        "similar length batched; sdpa: one call per row with a block-diagonal mask. A model whose sliding "
        "window is shorter than seq_len, or that has no sdpa (eager), trains with masks it builds per layer"
    )
    chat_template: str | None = Field(
        None, description="Jinja chat template to use when the tokenizer has none",
        json_schema_extra={"multiline": True, "placeholder": "empty: the tokenizer's own"})
    bos_token: Literal["tokenizer", "always"] = Field(
        "tokenizer", description="Rows start with BOS as tokenizer(text) encodes them (tokenizer: Llama-style "
        "tokenizers add it, GPT-2-style ones do not) or always (runs queued before this setting existed)")
    format: Format = Field(
        "auto", description="Row format: auto (decided once per dataset from its fields: text, then "
        "prompt+completion, messages, conversations (ShareGPT), instruction+output (Alpaca), instruction+response "
        "(Dolly), question+answer, prompt+response; a dataset of several of them: mixed); or one of them named; "
        "mixed: each row by its own fields")
    prompt_template: str | None = Field(
        None, description="Instruction formats: the prompt, with {instruction} and {input} filled in (empty: the "
        "Alpaca template, with or without its Input section)",
        json_schema_extra={"multiline": True, "placeholder": "empty: the Alpaca template"})
    prompt_template_no_input: str | None = Field(
        None, description="Instruction formats: the prompt for rows without an input (empty: prompt_template)",
        json_schema_extra={"multiline": True, "placeholder": "empty: prompt template"})
    eval_max_rows: int | None = Field(
        2000, ge=1, description="Validation examples each evaluation runs on, the final one included: this many "
        "spread evenly over the validation split, the same ones every time, so curves and runs compare (a "
        "1M-row dataset's 10% split made every evaluation 100,000 examples); empty: all of them",
        json_schema_extra={"placeholder": "empty: every validation example"})
    sample_prompts: list[str] = Field(
        default_factory=list, description="Prompts whose completions are logged as samples every "
        "eval.samples_every_steps (empty: a few built-in prompts)")

    @field_validator("prompt_template", "prompt_template_no_input")
    @classmethod
    def _names_the_instruction(cls, value: str | None) -> str | None:
        if not value:
            return None
        if "{instruction}" not in value:
            raise ValueError("must contain {instruction}, where the row's instruction goes")
        return value

    @field_validator("chat_template")
    @classmethod
    def _a_jinja_template(cls, value: str | None) -> str | None:
        """Parsed as transformers renders it (a sandboxed Jinja environment): "{{ unclosed" ended the
        run in its worker with Jinja's traceback."""
        if not value or not value.strip():
            return None
        from jinja2.exceptions import TemplateSyntaxError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        try:
            ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).parse(value)
        except TemplateSyntaxError as exc:
            raise ValueError(f"not a Jinja template: {exc.message} (its line {exc.lineno})") from None
        return value

    def template(self) -> formats.PromptTemplate:
        return formats.PromptTemplate.of(self.prompt_template, self.prompt_template_no_input)


def data_fit(facts: DataFacts, settings: BaseModel) -> str | None:
    """Rows of a format the recipe reads (`recipe_config.format`, or one detected from the fields)."""
    fmt = getattr(settings, "format", "auto")
    if fmt in ("auto", "mixed"):
        return None if formats.detect(dict(facts.filled), facts.rows) else formats.no_format_reason(facts.listed())
    lacking = [f for f in formats.FORMATS[fmt] if f not in facts.fields]
    if not lacking:
        return None
    return (f"its records have no {' or '.join(repr(f) for f in lacking)} field (recipe_config.format: "
            f"{formats.describe(fmt)}); fields: {facts.listed()}")


def decided_format(facts: DataFacts, settings: BaseModel) -> dict[str, str]:
    """`format: auto` becomes the format the dataset's fields say, frozen with the run at submit."""
    if getattr(settings, "format", "auto") != "auto":
        return {}
    found = formats.detect(dict(facts.filled), facts.rows)
    return {"format": found} if found else {}


def cpu_fit(settings: BaseModel) -> str | None:
    """Flex attention trains on CUDA only: on the CPU PyTorch has no backward pass for it, compiled or not."""
    if getattr(settings, "attention", None) == "flex":
        return ("recipe_config.attention: flex cannot train on the CPU (PyTorch has no backward pass for it there); "
                "use auto (varlen on the CPU), varlen or sdpa")
    return None


RECIPE = RecipeSpec(
    name="causal-lm",
    title="Causal LM fine-tuning",
    description="Fine-tune a decoder language model on text, prompt/completion, chat, ShareGPT or "
    "Alpaca-style instruction JSONL with LoRA, QLoRA, DoRA or full fine-tuning.",
    config_model=CausalLMConfig,
    data_kinds=("text",),
    implementation="spark_trainer.recipes.causal_lm_impl:CausalLMRecipe",
    tags=("text", "llm"),
    metrics=(MetricSpec("eval_loss", False, "validation loss"),
             MetricSpec("eval_perplexity", False, "validation perplexity")),
    unit="tokens",
    moved_fields=(("train.seq_len", "seq_len"), ("eval.sample_prompts", "sample_prompts")),
    # Runs frozen before rows followed the tokenizer's own BOS rule started every row with BOS; runs
    # frozen before `format` existed read each row by its own fields; before `eval_max_rows`, every
    # evaluation ran on the whole validation split.
    frozen_defaults=(("bos_token", "always"), ("format", "mixed"), ("eval_max_rows", None)),
    data_fit=data_fit,
    model_fit=needs_text_model,
    decided_settings=decided_format,
    cpu_fit=cpu_fit,
)
