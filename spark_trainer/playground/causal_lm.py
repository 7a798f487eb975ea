"""The causal-LM generator: a run's adapter (or fully fine-tuned weights) on its base model,
answering prompts with streamed text. The base model's answer comes from the same loaded model
with the adapter switched off, so comparing costs no second copy of the weights (LoRA/DoRA/QLoRA);
a fully fine-tuned run loads the base model beside it on first use."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.models.attention import for_inference
from spark_trainer.playground.context import Fitted, context_length, fit, fit_conversation
from spark_trainer.playground.generators import Emit, ShouldStop
from spark_trainer.playground.settings import GenerationSettings
from spark_trainer.playground.source import ModelSource


class CausalLMGenerator:
    def __init__(self) -> None:
        self.model: Any = None
        self.base_model: Any = None  # only for fully fine-tuned runs, loaded on first comparison
        self.tokenizer: Any = None
        self.source: ModelSource | None = None
        self.method = "lora"
        self.bos_rule = "tokenizer"  # the run's recipe_config.bos_token: prompts start as its rows did
        self.format = "mixed"  # the rows' format the run trained on (recipe_config.format, as frozen)
        self.template: Any = None  # its prompt template (`causal_lm_formats.PromptTemplate`) for instruction rows
        self.device: Any = None
        self.dtype: Any = None
        self.model_dir: Path | None = None
        self.context: int | None = None  # the most tokens, prompt and answer together (`context.context_length`)

    # ---- loading --------------------------------------------------------------------------------
    def load(self, source: ModelSource, device: str) -> dict[str, Any]:
        import torch

        from spark_trainer.jobs.submit import frozen_config
        from spark_trainer.models.loading import resolve_base_model
        from spark_trainer.recipes.causal_lm import CausalLMConfig
        from spark_trainer.recipes.causal_lm_formats import run_format, uses_template

        config = frozen_config(source.run_dir)
        rc = CausalLMConfig.model_validate(config.recipe_config)
        self.source, self.method, self.bos_rule = source, rc.method, rc.bos_token
        dataset = source.home / "datasets" / config.dataset if config.dataset.isdigit() else None
        self.format = run_format(config.recipe_config, dataset)
        self.template = rc.template() if uses_template(self.format) else None
        self.model_dir = resolve_base_model(config.base_model, search_dirs=(source.home, source.home / "models"))
        self.device = torch.device(device)
        precision = "fp32"
        if self.device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        self.tokenizer = _tokenizer(source, self.model_dir, rc.chat_template)
        if rc.method == "full":
            self.model = self._load_full(source, precision)
        else:
            self.model = self._load_adapted(source, rc, precision)
        self.model.eval()
        self.context = context_length(self.model, self.tokenizer)
        return {"context": self.context, "chat_template": bool(self.tokenizer.chat_template), "method": rc.method,
                "base_model": str(self.model_dir), "precision": precision, "format": self.format,
                "prompt_template": self.template is not None}

    def _load_adapted(self, source: ModelSource, rc: Any, precision: str) -> Any:
        from spark_trainer.export.checkpoint import read_tensors
        from spark_trainer.recipes.causal_lm_model import load_model

        model = load_model(self.model_dir, rc, self.device, precision, for_inference(self.model_dir))
        if source.kind == "base":  # fresh adapters, switched off for the base model's answers
            return model
        if source.kind == "final":
            from peft import set_peft_model_state_dict

            weights = read_tensors(source.path / "adapter_model.safetensors")
            result = set_peft_model_state_dict(model, weights)
            missing = [k for k in result.missing_keys if "lora_" in k]
            if missing:
                raise BadInput(f"{source.path} does not match this run's adapter: {len(missing)} LoRA tensors "
                               f"missing, e.g. {missing[0]}")
        else:
            _copy_trainable(model, read_tensors(source.path / "trainable.safetensors"), source.path)
        return model

    def _load_full(self, source: ModelSource, precision: str) -> Any:
        from transformers import AutoModelForCausalLM

        from spark_trainer.recipes.causal_lm_model import torch_dtype

        dtype = torch_dtype(precision)
        if source.kind == "base":
            model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype, local_files_only=True,
                                                         attn_implementation=for_inference(self.model_dir))
        elif source.kind == "final":
            model = AutoModelForCausalLM.from_pretrained(source.path, dtype=dtype, local_files_only=True,
                                                         attn_implementation=for_inference(source.path))
        else:
            from spark_trainer.export.checkpoint import read_tensors

            model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype, local_files_only=True,
                                                         attn_implementation=for_inference(self.model_dir))
            _copy_trainable(model, read_tensors(source.path / "trainable.safetensors"), source.path)
        return model.to(self.device)

    def _base(self) -> Any:
        if self.method != "full" or (self.source is not None and self.source.kind == "base"):
            return None  # the loaded model answers for the base (its adapters off; or it is the base model)
        if self.base_model is None:
            from transformers import AutoModelForCausalLM

            dtype = next(self.model.parameters()).dtype
            self.base_model = AutoModelForCausalLM.from_pretrained(
                self.model_dir, dtype=dtype, local_files_only=True,
                attn_implementation=for_inference(self.model_dir)).to(self.device).eval()
        return self.base_model

    # ---- generating -----------------------------------------------------------------------------
    def generate(self, inputs: dict[str, Any], settings: dict[str, Any], *, base: bool, emit: Emit,
                 should_stop: ShouldStop) -> dict[str, Any]:
        import contextlib

        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        if self.model is None:
            raise BadInput("no model is loaded")
        if not base and self.source is not None and self.source.kind == "base":
            raise BadInput(f"run {self.source.run_id}'s base model alone is loaded: it answers for the base model only")
        s = GenerationSettings.from_dict(settings)
        prompt = inputs.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise BadInput("prompt is empty")
        fitted = self._fit(prompt, inputs.get("history") or [], s, base)
        ids = fitted.ids
        seed = s.seed if s.seed is not None else random.randrange(2**32)
        stream = _TextStream(self.tokenizer, s.stop, emit)

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                done = stream.stopped or should_stop()
                return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

        sampling: dict[str, Any] = {"do_sample": False}
        if s.temperature > 0:
            sampling = {"do_sample": True, "temperature": s.temperature, "top_p": s.top_p,
                        "top_k": s.top_k or None}
        model = self.model
        adapter_off: Any = contextlib.nullcontext()
        if base:
            model = self._base() or self.model
            if model is self.model and hasattr(self.model, "disable_adapter"):
                adapter_off = self.model.disable_adapter()
        input_ids = torch.tensor([ids], device=self.device)
        torch.manual_seed(seed)
        started = time.monotonic()
        from spark_trainer.training.losses import logits_out

        # Training models emit hidden states for the fused loss (training/losses.py); generation needs logits.
        with torch.no_grad(), adapter_off, logits_out(model):
            out = model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=fitted.max_new_tokens,
                repetition_penalty=s.repetition_penalty, streamer=stream,
                stopping_criteria=StoppingCriteriaList([_Stop()]), pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id, use_cache=True, **sampling)
        new_tokens = int(out.shape[1] - input_ids.shape[1])
        reason = ("cancelled" if should_stop() else "stop" if stream.stopped else
                  "eos" if new_tokens and int(out[0, -1]) == self.tokenizer.eos_token_id else
                  "context" if fitted.capped else "length")
        result = {"text": stream.text, "tokens": new_tokens, "seconds": round(time.monotonic() - started, 3),
                  "finish_reason": reason, "prompt_tokens": len(ids), "settings": {**s.to_dict(), "seed": seed}}
        note = fitted.said(reason == "context")
        return {**result, "note": note} if note else result

    def _fit(self, prompt: str, history: list[Any], s: GenerationSettings, base: bool) -> Fitted:
        """The prompt's ids, refused (BadInput) when they alone fill the model's context, with the answer
        capped to what is left (a chat's oldest turns left out first; see `context`)."""
        run = self.source.run_id if self.source is not None else "?"
        who = f"run {run}'s base model" if base else f"run {run}'s model"
        if s.chat_template and history:
            def encode(turns: list[Any]) -> list[int]:
                return self.encode_prompt(prompt, turns, True)

            return fit_conversation(encode, history, s.max_new_tokens, self.context, who)
        ids = self.encode_prompt(prompt, history, s.chat_template, s.prompt_template)
        return fit(ids, s.max_new_tokens, self.context, who)

    def encode_prompt(self, prompt: str, history: list[Any], chat: bool, template: bool = True) -> list[int]:
        """The ids the model is given for `prompt`: as a user message through the chat template (`chat`),
        else, for a run trained on instruction rows, as the instruction in its prompt template
        (`template`, on by default), else as it is; after the run's BOS, as its rows began."""
        tok = self.tokenizer
        if chat:
            if not tok.chat_template:
                raise BadInput("chat_template: this model's tokenizer has no chat template")
            for turn in history:
                if not isinstance(turn, dict) or not isinstance(turn.get("content"), str) or "role" not in turn:
                    raise BadInput("history: every turn needs 'role' and 'content' strings")
            text = tok.apply_chat_template([*history, {"role": "user", "content": prompt}], tokenize=False,
                                           add_generation_prompt=True)
            return list(tok(text, add_special_tokens=False)["input_ids"])
        # As the recipe encodes prompt/completion rows: the run's BOS rule, then the prompt.
        from spark_trainer.recipes.causal_lm_model import bos_ids

        if template and self.template is not None:
            prompt = self.template.prompt(prompt)
        return bos_ids(tok, self.bos_rule) + list(tok(prompt, add_special_tokens=False)["input_ids"])

    def memory_bytes(self) -> int:
        import torch

        if self.model is None:
            return 0
        if self.device is not None and self.device.type == "cuda":
            return int(torch.cuda.memory_allocated(self.device))
        models = [m for m in (self.model, self.base_model) if m is not None]
        return sum(t.numel() * t.element_size() for m in models for t in [*m.parameters(), *m.buffers()])

    def close(self) -> None:
        self.model = self.base_model = None
        if self.device is not None and self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()


def _tokenizer(source: ModelSource, model_dir: Path, chat_template: str | None) -> Any:
    from transformers import AutoTokenizer

    # The final folder holds the tokenizer the run trained with; checkpoints use the base model's.
    folder = source.path if source.kind == "final" and (source.path / "tokenizer_config.json").is_file() else model_dir
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if chat_template and not tok.chat_template:
        tok.chat_template = chat_template
    # A prompt longer than the model takes is refused in one line (`context.fit`); the tokenizer's own
    # warning ("will result in indexing errors") would only come before it as noise.
    tok.deprecation_warnings["sequence-length-is-longer-than-the-specified-maximum"] = True
    return tok


def _copy_trainable(model: Any, weights: dict[str, Any], where: Path) -> None:
    import torch

    named = {n: p for n, p in model.named_parameters() if n in weights}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    if set(weights) != set(named) or (trainable and not trainable <= set(weights)):
        raise BadInput(f"checkpoint {where} does not match this run's model: it holds {len(weights)} tensors, "
                       f"{len(named)} of them known to the model")
    with torch.no_grad():
        for name, param in named.items():
            param.copy_(weights[name])


class _TextStream:
    """A transformers streamer that emits the new text as tokens arrive.

    The whole answer is decoded each time and only the unseen part is emitted, so multi-byte
    characters and tokenizers that merge spaces come out right; text that could be the start of a
    stop string (or half a UTF-8 character) is held back until it is certain.
    """

    def __init__(self, tokenizer: Any, stop: tuple[str, ...], emit: Emit) -> None:
        self.tokenizer, self.stop, self.emit = tokenizer, stop, emit
        self.ids: list[int] = []
        self.text = ""  # emitted so far
        self.stopped = False
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() hands the prompt over first
            self._prompt_seen = True
            return
        if self.stopped:
            return
        self.ids.extend(int(v) for v in value.reshape(-1).tolist())
        self._advance(final=False)

    def end(self) -> None:
        if not self.stopped:
            self._advance(final=True)

    def _advance(self, *, final: bool) -> None:
        full = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = _first_stop(full, self.stop)
        if cut is not None:
            full, self.stopped, final = full[:cut], True, True
        ready = len(full) if final else _safe_length(full, self.stop)
        if ready > len(self.text) and full.startswith(self.text):
            delta = full[len(self.text):ready]
            self.text += delta
            self.emit(delta)


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _safe_length(text: str, stops: tuple[str, ...]) -> int:
    end = len(text)
    while end and text[end - 1] == "\ufffd":  # half a character: wait for its other bytes
        end -= 1
    for stop in stops:
        for k in range(min(len(stop) - 1, end), 0, -1):
            if text[:end].endswith(stop[:k]):
                end = min(end, len(text[:end]) - k)
                break
    return end
