"""The causal-LM recipe's implementation (imports torch; loaded only to train)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.models.loading import home_search_dirs, resolve_for_run
from spark_trainer.recipes import causal_lm_chat as chat
from spark_trainer.recipes import causal_lm_formats as formats
from spark_trainer.recipes import token_cache
from spark_trainer.recipes.base import EvalResult, Sample
from spark_trainer.recipes.causal_lm import CausalLMConfig
from spark_trainer.recipes.causal_lm_model import attention_for, attention_note  # noqa: F401 - attention_for: bench, estimate
from spark_trainer.training import packing
from spark_trainer.training.data import (
    Record,
    dataset_records,
    evaluated_rows,
    in_batches,
    read_records,
    require_rows,
)
from spark_trainer.training.packing import Example

DEFAULT_PROMPTS = ["The", "Question: what is", "Once upon a time"]
BATCH = 1024  # records whose texts are tokenized in one call
# recipe_config fields that change the examples a dataset encodes to (the token cache's key); the row
# format and prompt templates join them when they are not the defaults of runs cached before they existed
ENCODING_FIELDS = ("seq_len", "bos_token", "completion_only_loss", "chat_template")
FORMAT_FIELDS = ("format", "prompt_template", "prompt_template_no_input")
DETECTED = "detected from the dataset's fields"
UNCHECKED_AT_SUBMIT = ("text", "prompt-completion", "messages", "mixed")

def _as_arrays(example: Example) -> Example:
    import numpy as np

    return Example(np.asarray(example.input_ids, dtype=np.int32), np.asarray(example.train_mask, dtype=np.bool_))


class CausalLMRecipe:
    """LoRA, DoRA, QLoRA or full fine-tuning of a decoder LM on text, prompt/completion or chat rows.

    Data items are packed token rows, collated in process (`loader_workers` 0); the loss unit is a
    target token and the work unit a real (non-padding) token.
    """

    unit = "tokens"
    loader_workers = 0

    def __init__(self, config: ExperimentConfig, *, model_search_dirs: tuple[Path, ...] = ()) -> None:
        self.config = config
        self.rc = CausalLMConfig.model_validate(config.recipe_config)
        self.model_search_dirs = model_search_dirs
        self.model_dir: Path | None = None
        self.tokenizer: Any = None
        self.train_data: list[packing.Row] = []
        self.val_data: list[packing.Row] = []
        self.truncated = 0
        self.cut_away = 0  # examples whose every trained token lay beyond seq_len (a long prompt, an answer after it)
        self._bos_ids: list[int] | None = None
        self.attn = "sdpa"
        self.model_masks = False  # the model builds its own attention masks (attention_implementation)
        self.window: int | None = None  # the model's sliding window, when an example can outgrow it
        self.packed = self.rc.packing  # rows hold several examples (off by the rc, or for a leaky model)
        self._packing_checked = False  # the packed-examples check runs on the first model built only
        self._examples: tuple[list[Example], list[Example]] = ([], [])
        self.packing_efficiency: float | None = None
        self.model_notes: list[str] = []  # lines for the run's log from building the model
        self.data_notes: list[str] = []  # lines for the run's log from preparing the data
        self.format: str = self.rc.format  # the rows' format; `auto` is decided from the data (`resolve_format`)
        self._format_why = ""  # where the format came from, for a row that is not of it
        self.template = self.rc.template()

    # ---- formats ------------------------------------------------------------------------------
    def check_data(self, data_path: Path) -> dict[str, Any]:
        """Submit's check of rows the recipe converts (ShareGPT, instruction formats): every row is of
        the format, or BadInput names the first that is not. `auto` (the dataset's facts unknown to
        submit) is decided here from the rows, and returned to be frozen into the run's config, so
        that trying or exporting the run later reads prompts as it trained. Rows of text, prompt/
        completion or messages, or `mixed` ones, are left to the worker, as before this check (a
        large text dataset is not read twice); so is a dataset whose folder is gone."""
        self._check_positions_at_submit()
        data_path = Path(data_path)
        self._check_chat_template_at_submit(self.rc.format)
        if not data_path.exists() or self.rc.format in UNCHECKED_AT_SUBMIT:
            return {}
        self.resolve_format(self._records(data_path), data_path)
        self._check_chat_template_at_submit(self.format)
        for record in self._records(data_path):  # a stream: 1M rows held as records took 2.5 GB
            self.trainable(record)
        return {"format": self.format} if self.rc.format == "auto" else {}

    def _check_chat_template_at_submit(self, fmt: str) -> None:
        from spark_trainer.recipes.causal_lm_chat import check_at_submit

        check_at_submit(fmt, self.rc.chat_template, lambda: resolve_for_run(self.config.base_model,
                                                                            self.model_search_dirs))

    def _check_positions(self, max_positions: Any, model_dir: Path) -> None:
        if isinstance(max_positions, int) and self.rc.seq_len > max_positions:
            raise ConfigError(f"recipe_config.seq_len {self.rc.seq_len} is larger than the model's "
                              f"max_position_embeddings {max_positions} ({model_dir})")

    def _check_positions_at_submit(self) -> None:
        """The worker's check of seq_len against the model's positions, made before the run is queued
        (it was made only once the data was tokenized): from the model's config.json, read as text. A
        model not there yet (`exp create` may name one), or a config without the number, is the worker's."""
        import json

        try:
            folder = resolve_for_run(self.config.base_model, self.model_search_dirs)
            config = json.loads((folder / "config.json").read_text())
        except (BadInput, OSError, ValueError):
            return
        self._check_positions(config.get("max_position_embeddings") if isinstance(config, dict) else None, folder)

    def _records(self, data_path: Path) -> Iterable[Record]:
        """The records of `data_path`: an ingested dataset's as a stream; a plain file's all at once (it
        is split by content hash over all its rows, `read_records`)."""
        return dataset_records(data_path) if data_path.is_dir() else read_records(data_path, self.config.eval.val_fraction)

    def resolve_format(self, records: Iterable[Record], where: Path) -> str:
        """The rows' format: the run's `recipe_config.format`, or for `auto` the one the rows' fields
        say (`causal_lm_formats.detect`, decided once for the whole dataset)."""
        if self.rc.format == "auto":
            counts, rows = formats.field_counts(r.data for r in records)
            found = formats.detect(counts, rows)
            if found is None:
                raise BadInput(f"dataset {where}: {formats.no_format_reason(', '.join(sorted(counts)) or 'none')}")
            self.format, self._format_why = found, DETECTED
        return self.format

    def trainable(self, record: Record) -> Record:
        """`record` as text, prompt/completion or chat messages (BadInput naming its line if it is not
        of the run's format)."""
        fmt = "mixed" if self.format == "auto" else self.format  # encode() of a record before prepare()
        data = formats.to_trainable(record.data, fmt, record.source, self.template, self._format_why)
        return Record(data, record.source, record.split)

    # ---- data ---------------------------------------------------------------------------------
    def prepare(self, data_path: Path) -> None:
        from transformers import AutoConfig, AutoTokenizer

        seq_len = self.rc.seq_len
        self.model_dir = resolve_for_run(self.config.base_model, self.model_search_dirs)
        model_config = AutoConfig.from_pretrained(self.model_dir, local_files_only=True)
        self._check_positions(getattr(model_config, "max_position_embeddings", None), self.model_dir)
        if self.rc.method == "qlora":
            self._check_qlora()
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.rc.chat_template and not self.tokenizer.chat_template:
            self.tokenizer.chat_template = self.rc.chat_template
        train, val = self._examples_of(Path(data_path))
        picked, note = evaluated_rows(val, self.rc.eval_max_rows)
        val, self.data_notes = list(picked), self.data_notes + ([note] if note else [])
        arrange = (lambda ex: packing.pack(ex, seq_len)) if self.rc.packing else packing.unpacked
        self._examples = (train, val)
        self.train_data, self.val_data = arrange(train), arrange(val)
        # Reported by the engine (run log, `packing_efficiency` metric) and by `bench lora`.
        self.packing_efficiency = packing.efficiency(self.train_data, seq_len) if self.rc.packing else None

    def _examples_of(self, data_path: Path) -> tuple[list[Example], list[Example]]:
        """Train and validation examples of `data_path`: from the token cache of an ingested dataset
        when an earlier run encoded it the same way, else tokenized now (and cached)."""
        assert self.model_dir is not None
        started = time.monotonic()
        settings = {"recipe": "causal-lm", **self.rc.model_dump(include=set(ENCODING_FIELDS))}
        if self.rc.format != "mixed":  # as every run cached before the setting read its rows
            settings.update({k: v for k, v in self.rc.model_dump(include=set(FORMAT_FIELDS)).items() if v})
        cache_key = token_cache.key(data_path, self.model_dir, settings)
        cached = None
        if cache_key is not None and (cached := token_cache.load(data_path, cache_key)) is not None:
            self.data_notes.append(f"tokenized rows read from the cache in {time.monotonic() - started:.1f} s: "
                                   f"{token_cache.path_for(data_path, cache_key)}")
        else:
            self.resolve_format(self._records(data_path), data_path)  # reads the rows only for `auto`
            if self.format != "mixed":
                self.data_notes.append(f"rows read as {formats.describe(self.format)}"
                                       + (" (detected from the dataset's fields)" if self._format_why else ""))
            cached, rows = self._encode_dataset(data_path)
            self.data_notes.append(f"tokenized {rows:,} rows in {time.monotonic() - started:.1f} s")
            if cache_key is not None and os.environ.get("RANK", "0") == "0":  # one rank of a distributed run writes
                self.data_notes.append(token_cache.save(data_path, cache_key, cached))
        self.truncated = cached.truncated
        return cached.examples()

    def _encode_dataset(self, data_path: Path) -> tuple[token_cache.Encoded, int]:
        """Every example of `data_path` (those with a token to learn from) in flat arrays, and the
        number of rows read. An ingested dataset is read `BATCH` records at a time, never whole: its
        1M rows held as records took 2.5 GB before the first was tokenized."""
        import numpy as np

        pieces: dict[str, list[token_cache.Encoded]] = {"train": [], "val": []}
        rows = train_rows = 0
        for chunk in in_batches(self._records(data_path), BATCH):
            rows += len(chunk)
            train_rows += sum(r.split == "train" for r in chunk)
            chunk = [self.trainable(r) for r in chunk]
            examples = self.encode_all(chunk)
            for split, found in pieces.items():
                kept = [e for e, r in zip(examples, chunk, strict=True) if r.split == split and np.any(e.train_mask[1:])]
                if kept:
                    found.append(token_cache.compact(kept, [], 0))
        require_rows(data_path, rows, train_rows)
        n_train = sum(len(p.lengths) for p in pieces["train"])
        if not n_train:
            why = (f": in {self.cut_away:,} rows all it trains on (the completion, answer or assistant turns) lies "
                   f"beyond recipe_config.seq_len, {self.rc.seq_len} tokens of this tokenizer; raise seq_len"
                   if self.cut_away else "")
            raise BadInput(f"dataset {data_path}: no training row has any token to learn from{why}")
        parts = pieces["train"] + pieces["val"]
        return token_cache.Encoded(np.concatenate([p.ids for p in parts]), np.concatenate([p.mask for p in parts]),
                                   np.concatenate([p.lengths for p in parts]), n_train, self.truncated), rows

    def encode_all(self, records: list[Record]) -> list[Example]:
        """`encode` of every record made `trainable`, the texts of `BATCH` records tokenized in one call
        (the fast tokenizer then spreads them over the CPU's cores); chat rows too, a call for a batch's
        conversations (one call each, and their masks found token by token, made them three times
        slower than the other rows)."""
        out: list[Example] = []
        for chunk in in_batches(records, BATCH):
            texts: list[str] = []
            chats: list[chat.Rendered] = []
            for r in chunk:  # in the order _encode_trainable() takes them
                if isinstance(r.data.get("text"), str):
                    texts.append(r.data["text"])
                elif isinstance(r.data.get("prompt"), str) and isinstance(r.data.get("completion"), str):
                    texts += [r.data["prompt"], r.data["completion"]]
                else:  # `trainable` left nothing else
                    chats.append(chat.render(self.tokenizer, r))
            tokenized = iter(self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else [])
            conversations = iter(chat.examples(self.tokenizer, chats, self.rc.completion_only_loss))
            out += [_as_arrays(self._encode_trainable(r, tokenized, conversations)) for r in chunk]
        return out

    def search_dirs(self) -> tuple[Path, ...]:
        """Where a relative base model name is looked for: given folders, the data home, its models/."""
        return (*self.model_search_dirs, *home_search_dirs())

    def _check_qlora(self) -> None:
        import importlib.util

        # bitsandbytes >= 0.45 quantizes to 4 bits on the CPU too (slowly): QLoRA is for GPUs, but a
        # CPU run is real, which is also how the tests exercise it.
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError("recipe_config.method qlora needs the bitsandbytes package "
                              "(pip install bitsandbytes); or use method lora")

    def encode(self, record: Record) -> Example:
        """Tokens and target flags of one record of the run's format; raises BadInput naming its line."""
        return self._encode_trainable(self.trainable(record))

    def _encode_trainable(self, record: Record, tokenized: Iterator[list[int]] | None = None,
                          conversations: Iterator[Example] | None = None) -> Example:
        """Tokens and target flags of a `trainable` record. `tokenized` holds its text (or prompt, then
        completion) already tokenized, and `conversations` a chat row's example, as `encode_all` does."""
        tok, data = self.tokenizer, record.data
        ids_of = (lambda _text: list(next(tokenized))) if tokenized is not None else self._ids
        if isinstance(data.get("text"), str):
            ids = ids_of(data["text"])
            ids = self._bos() + ids + [tok.eos_token_id]
            example = Example(ids, [True] * len(ids))
        elif isinstance(data.get("prompt"), str) and isinstance(data.get("completion"), str):
            prompt = self._bos() + ids_of(data["prompt"])
            completion = ids_of(data["completion"]) + [tok.eos_token_id]
            train_prompt = not self.rc.completion_only_loss
            example = Example(prompt + completion, [train_prompt] * len(prompt) + [True] * len(completion))
        else:  # `trainable` left nothing else
            example = next(conversations) if conversations is not None else self._encode_chat(record)
        limit = self.rc.seq_len
        if len(example.input_ids) > limit:
            self.truncated += 1
            learnt = any(example.train_mask[1:])
            example = Example(example.input_ids[:limit], example.train_mask[:limit])
            self.cut_away += learnt and not any(example.train_mask[1:])  # all it trains on lay past seq_len
        return example

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _bos(self) -> list[int]:
        if self._bos_ids is None:
            from spark_trainer.recipes.causal_lm_model import bos_ids

            self._bos_ids = bos_ids(self.tokenizer, self.rc.bos_token)
        return self._bos_ids

    def _encode_chat(self, record: Record) -> Example:
        return chat.examples(self.tokenizer, [chat.render(self.tokenizer, record)], self.rc.completion_only_loss)[0]

    def log_notes(self) -> list[str]:
        notes = [*self.data_notes, *self.model_notes]
        if self.packing_efficiency is not None:
            notes.append(f"packing efficiency {self.packing_efficiency:.1%} (real tokens / row capacity of "
                         f"{len(self.train_data)} rows of {self.rc.seq_len} tokens)")
        if self.truncated:
            notes.append(f"{self.truncated} examples were longer than recipe_config.seq_len {self.rc.seq_len} "
                         "and were truncated")
        return notes

    def load(self, item: packing.Row, seed: int | None) -> packing.Row:
        return item  # rows are tokenized and packed up front

    def collate(self, rows: list[packing.Row]) -> dict[str, Any]:
        pad_to = self.rc.seq_len if self.packed else None
        return packing.collate(rows, self.tokenizer.pad_token_id, pad_to=pad_to)

    def loss_count(self, batch: dict[str, Any]) -> int:
        return packing.target_count(batch)

    def work_in(self, batch: dict[str, Any]) -> int:
        return int((batch["segment_ids"] >= 0).sum())  # -1 marks padding

    # ---- model --------------------------------------------------------------------------------
    def attention_implementation(self, device: Any) -> tuple[str, bool, int | None]:
        """(transformers attention implementation, whether the model builds its own masks, the model's
        sliding window where an example can outgrow it): the run file's choice (`attention_for`) where
        the model can take it (`attention.training_choice`)."""
        from spark_trainer.models.attention import facts, training_choice

        attn = attention_for(self.rc.attention, self.config.train.compile, getattr(device, "type", str(device)))
        if self.model_dir is None:
            return attn, False, None
        model = facts(self.model_dir)
        window = model.window if model.window_matters(self.rc.seq_len) else None
        return (*training_choice(attn, model, self.rc.seq_len), window)

    def build_model(self, device: Any, precision: str) -> Any:
        from spark_trainer.recipes.causal_lm_model import MIX_PACKED_EXAMPLES, examples_stay_apart, load_model

        assert self.model_dir is not None, "prepare() runs first"
        self.attn, self.model_masks, self.window = self.attention_implementation(device)
        at = len(self.model_notes)
        model = load_model(self.model_dir, self.rc, device, precision, self.attn,
                           gradient_checkpointing=self.config.train.gradient_checkpointing, notes=self.model_notes)
        # Once: a sharded run rebuilds the model on the CPU to save it, where the check would only
        # cost time (a long forward pass through the whole model) and change nothing.
        check, self._packing_checked = self.model_masks and self.packed and not self._packing_checked, True
        if check and (model.config.model_type in MIX_PACKED_EXAMPLES
                      or not examples_stay_apart(model, self.attn, model_masks=True, window=self.window)):
            # Correct but slower: one example per row, so nothing can leak from a neighbour.
            self.packed = False
            self.train_data, self.val_data = (packing.unpacked(e) for e in self._examples)
            self.packing_efficiency = None
            self.model_notes.append(f"packing: off, {model.config.model_type} lets examples packed in a row "
                                    "see each other on this attention path; one example per row")
        self.model_notes.insert(at, attention_note(self.attn, self.model_masks, self.window, self.packed))
        return model

    @property
    def fixed_shapes(self) -> bool:
        """Every batch is of one shape (packed rows padded to seq_len; the evaluation's last batch may
        hold fewer rows): the engine compiles the model with static shapes (training/compiling.py)."""
        return self.packed

    def loss(self, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        from spark_trainer.recipes.causal_lm_model import packed_loss

        return packed_loss(model, batch, self.attn, model_masks=self.model_masks)

    def eval_step(self, model: Any, batch: dict[str, Any]) -> dict[str, Any]:
        import torch

        loss_sum, count = self.loss(model, batch)
        return {"loss_sum": loss_sum.detach().double(), "count": torch.as_tensor(count).double()}

    def eval_metrics(self, totals: dict[str, Any]) -> EvalResult:
        loss = float(totals["loss_sum"]) / max(float(totals["count"]), 1.0)
        return EvalResult({"eval_loss": loss, "eval_perplexity": math.exp(min(loss, 50.0))})

    def generate_samples(self, model: Any) -> list[Sample]:
        from spark_trainer.recipes.causal_lm_model import generate

        wrap = self.template.prompt if formats.uses_template(self.format) else None  # as its rows were
        found = generate(model, self.tokenizer, list(self.rc.sample_prompts) or DEFAULT_PROMPTS, wrap=wrap)
        return [Sample(prompt=s["prompt"], text=s["completion"]) for s in found]

    def save_final(self, model: Any, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(dest)
        self.tokenizer.save_pretrained(dest)


if TYPE_CHECKING:  # the type checker (tests/training/test_typecheck.py) holds the class to the protocol
    from spark_trainer.recipes.base import Recipe

    _conforms: type[Recipe] = CausalLMRecipe
