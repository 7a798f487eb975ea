"""The Hugging Face Trainer + PEFT baselines: dynamic padding, and naive packing (rows of
concatenated examples that attend across example boundaries)."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from typing import Any

from spark_trainer.bench.workload import Preset, build_model


class _Counter:
    """Collates batches and counts their real (non-padding) tokens, in batch order."""

    def __init__(self, pad_id: int, packed: bool) -> None:
        self.pad_id, self.packed, self.tokens, self.capacity = pad_id, packed, [], []

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        seqs = [f["input_ids"] for f in features]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        self.tokens.append(int(mask.sum()))
        self.capacity.append(mask.numel())
        if self.packed:
            return {"input_ids": ids, "labels": labels}
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def naive_pack(examples: list[list[int]], seq_len: int) -> list[list[int]]:
    flat = [t for ex in examples for t in ex]
    return [flat[i:i + seq_len] for i in range(0, len(flat) - seq_len + 1, seq_len)]


def run_trainer(preset: Preset, examples: list[list[int]], *, packed: bool, device: Any, precision: str,
                steps: int, warmup: int) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainerCallback, TrainingArguments

    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    model = build_model(preset, device, dtype, "sdpa")
    model = get_peft_model(model, LoraConfig(r=preset.lora_r, lora_alpha=2 * preset.lora_r,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    rows = naive_pack(examples, preset.seq_len) if packed else examples
    dataset = [{"input_ids": r} for r in rows]
    counter = _Counter(0, packed)
    marks: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            marks.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=preset.batch_size, max_steps=warmup + steps,
            learning_rate=2e-4, lr_scheduler_type="constant", bf16=precision == "bf16", use_cpu=not cuda,
            optim="adamw_torch_fused" if cuda else "adamw_torch", logging_steps=10**6, save_strategy="no",
            report_to=[], disable_tqdm=True, dataloader_num_workers=0, remove_unused_columns=False, seed=0)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=counter, callbacks=[Clock()])
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its summary; keep --json output clean
            trainer.train()
    peak = torch.cuda.max_memory_allocated() if cuda else None
    seconds = marks[warmup + steps - 1] - marks[warmup - 1]
    tokens = sum(counter.tokens[warmup:warmup + steps])
    capacity = sum(counter.capacity[warmup:warmup + steps])
    del model
    return {"tokens_per_s": tokens / seconds, "tokens": tokens, "seconds": seconds, "peak_bytes": peak,
            "examples_apart": not packed, "packing_efficiency": tokens / capacity, "compile_warmup_s": None}
