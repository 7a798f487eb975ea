"""`spark-trainer bench lora`: our engine against Hugging Face Trainer + PEFT on the same job.

All three run in one process on the same random-initialised model and the same synthetic length
mix: our engine (packing that keeps examples apart, flex attention on CUDA, fused AdamW, bf16,
optionally torch.compile), the Trainer on naively packed rows, and the Trainer with dynamic
padding. The figure that counts is real (non-padding) tokens per second.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import replace
from typing import Any

from spark_trainer.bench.workload import PRESETS, Preset, build_model, synthetic_examples
from spark_trainer.errors import BadInput


def run_ours(preset: Preset, examples: list[list[int]], *, device: Any, precision: str, steps: int,
             warmup: int, attention: str) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from spark_trainer.recipes.causal_lm import CausalLMConfig
    from spark_trainer.recipes.causal_lm_model import adapt, packed_loss, torch_dtype
    from spark_trainer.training import packing
    from spark_trainer.training import steps as train_steps

    cuda = device.type == "cuda"
    attn = {"auto": "flex_attention" if cuda else "sdpa", "flex": "flex_attention", "sdpa": "sdpa"}[attention]
    AcceleratorState._reset_state(reset_partial_state=True)
    accelerator = Accelerator(cpu=not cuda, mixed_precision="bf16" if precision == "bf16" else "no")
    rc = CausalLMConfig(lora_r=preset.lora_r, lora_alpha=2 * preset.lora_r)
    model = adapt(build_model(preset, accelerator.device, torch_dtype(precision), attn), rc)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = train_steps.make_optimizer(params, 2e-4, 0.0, accelerator.device.type)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    if preset.compile:
        model = torch.compile(model)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    rows = packing.pack([packing.Example(ex, [True] * len(ex)) for ex in examples], preset.seq_len)
    needed = (warmup + steps) * preset.batch_size
    if len(rows) < needed:
        raise BadInput(f"benchmark data too small: {len(rows)} packed rows, {needed} needed")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    tokens, began = 0, 0.0
    for step in range(warmup + steps):
        if step == warmup:
            if cuda:
                torch.cuda.synchronize()
            began = time.perf_counter()
        batch_rows = rows[step * preset.batch_size:(step + 1) * preset.batch_size]
        real = sum(packing.row_tokens(r) for r in batch_rows)
        train_steps.train_step(
            model=model, optimizer=optimizer, scheduler=scheduler, accelerator=accelerator,
            loss_fn=lambda m, b: packed_loss(m, b, attn), loss_count=packing.target_count,
            micro_batches=[packing.collate(batch_rows, 0, pad_to=preset.seq_len)], work=real,
            params=params, max_grad_norm=1.0)
        if step >= warmup:
            tokens += real
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    peak = torch.cuda.max_memory_allocated() if cuda else None
    del model, optimizer
    return {"tokens_per_s": tokens / seconds, "tokens": tokens, "seconds": seconds, "peak_bytes": peak,
            "examples_apart": True, "attention": attn, "compiled": preset.compile}


def bench_lora(preset_name: str = "tiny", *, steps: int | None = None, compile: bool | None = None,
               attention: str = "auto", engines: tuple[str, ...] = ("ours", "packed", "padded"),
               log: Any = None) -> dict[str, Any]:
    """Run the engines and return their figures and ratios (see the module docstring)."""
    import torch

    from spark_trainer.bench.baselines import run_trainer

    if preset_name not in PRESETS:
        raise BadInput(f"unknown preset {preset_name!r}; presets are: {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    if compile is not None:
        preset = replace(preset, compile=compile)
    steps = steps or preset.steps
    warmup = preset.warmup_steps
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    # Enough examples for the packed engines' rows; the padded engine uses the first few.
    mean_len = preset.median_len * math.exp(0.75**2 / 2)
    n = int((warmup + steps) * preset.batch_size * preset.seq_len / mean_len * 1.3) + 64
    examples = synthetic_examples(preset, n)
    results: dict[str, Any] = {}
    for engine in engines:
        if log:
            log(f"running {engine} ({preset.name}, {steps} timed steps after {warmup} warm-up)")
        if engine == "ours":
            results[engine] = run_ours(preset, examples, device=device, precision=precision, steps=steps,
                                       warmup=warmup, attention=attention)
        elif engine in ("packed", "padded"):
            results[engine] = run_trainer(preset, examples, packed=engine == "packed", device=device,
                                          precision=precision, steps=steps, warmup=warmup)
        else:
            raise BadInput(f"unknown engine {engine!r}; engines are: ours, packed, padded")
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    ratios = {}
    if "ours" in results:
        for base in ("packed", "padded"):
            if base in results:
                ratios[f"ours_vs_{base}"] = results["ours"]["tokens_per_s"] / results[base]["tokens_per_s"]
        if cuda and "packed" in results:
            ratios["memory_ours_vs_packed"] = results["ours"]["peak_bytes"] / results["packed"]["peak_bytes"]
    return {"preset": preset.name, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "precision": precision, "steps": steps, "warmup_steps": warmup, "seq_len": preset.seq_len,
            "batch_size": preset.batch_size, "median_len": preset.median_len, "compile": preset.compile,
            "torch": torch.__version__, "engines": results, "ratios": ratios}


def format_report(report: dict[str, Any]) -> str:
    names = {"ours": "spark-trainer (packed, examples apart)", "packed": "HF Trainer + PEFT, naive packing",
             "padded": "HF Trainer + PEFT, dynamic padding"}
    lines = [f"bench lora --preset {report['preset']} on {report['device']} ({report['precision']}, "
             f"seq_len {report['seq_len']}, batch {report['batch_size']}, median example {report['median_len']} "
             f"tokens, {report['steps']} timed steps, compile {report['compile']}, torch {report['torch']})"]
    for key, r in report["engines"].items():
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**30:.1f} GiB"
        lines.append(f"  {names[key]:<42} {r['tokens_per_s']:>12,.0f} real tokens/s   peak {peak:>9}   "
                     f"examples apart: {'yes' if r['examples_apart'] else 'no'}")
    for key, value in report["ratios"].items():
        lines.append(f"  {key.replace('_', ' ')}: {value:.2f}x")
    return "\n".join(lines)
