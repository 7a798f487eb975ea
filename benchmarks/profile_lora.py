"""Where the default run's time and memory go on a GPU: our side of `bench lora` (the same run file and
`jobs.worker.train` path) with torch.profiler over a few steady steps, Python's GC pauses counted in the
timed steps, and the memory allocated around one step's forward pass (what the activations hold).

    python benchmarks/profile_lora.py [--preset 1b] [--profile 20-22] [--budget 0.9]

`--budget` sets the run's activation memory budget (SPARK_TRAINER_ACTIVATION_BUDGET: the compiled blocks'
partitioner recomputes the cheapest activations to keep under that share; 1 keeps them all, the default
on CUDA is training/compiling.py's ACTIVATION_BUDGET) for a measurement of what it saves and costs.
Prints text only; the GPU check keeps what it prints.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import time
from typing import Any

CATEGORIES = (("attention (flex)", r"flex|attention|fwd_kernel|bwd_kernel|triton_tem"),
              ("matmul (cuBLAS/CUTLASS)", r"gemm|cutlass|sm\d\d_|nvjet|cublas|xmma|ampere|hopper"),
              ("loss (liger/cross-entropy)", r"liger|cross_entropy|_ce_|nll"),
              ("optimizer", r"adam|multi_tensor|foreach"),
              ("copies and fills", r"memcpy|memset|copy_|fill"),
              ("fused pointwise/reductions (triton)", r"triton"))


def category(name: str) -> str:
    low = name.lower()
    for label, pattern in CATEGORIES:
        if re.search(pattern, low):
            return label
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="1b")
    parser.add_argument("--profile", default="20-22", help="training steps to profile, FIRST-LAST")
    parser.add_argument("--budget", type=float, default=None, help="activation memory budget in (0, 1]")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    first, last = (int(x) for x in args.profile.split("-"))

    import torch
    from torch.profiler import ProfilerActivity, profile, schedule

    from spark_trainer.bench import lora
    from spark_trainer.bench.workload import PRESETS, synthetic_examples
    from spark_trainer.recipes import causal_lm_model
    from spark_trainer.training import reporters

    if args.budget is not None:  # as a run takes it: the engine sets torch's budget around its calls
        os.environ["SPARK_TRAINER_ACTIVATION_BUDGET"] = str(args.budget)
    preset = PRESETS[args.preset]
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    mean_len = preset.median_len * math.exp(0.75**2 / 2)
    n = int((preset.warmup_steps + preset.steps) * preset.batch_size * preset.seq_len / mean_len * 1.3 / 0.9) + 64
    examples = synthetic_examples(preset, n)

    prof = None if args.no_profile else profile(
        activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else []),
        schedule=schedule(wait=max(0, first - 3), warmup=1, active=last - first + 1, repeat=1))
    state: dict[str, Any] = {"step": 0, "forwards": 0, "started": False, "wall": {}, "retries": {}}
    pauses: list[tuple[int, int, float]] = []  # (step, generation, seconds)
    gc_began: list[float] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_began.append(time.perf_counter())
        elif gc_began:
            pauses.append((state["step"], info["generation"], time.perf_counter() - gc_began.pop()))

    gc.callbacks.append(on_gc)
    original_metrics = reporters.StoreReporter.on_metrics

    def on_metrics(self: Any, step: int, values: dict[str, float]) -> None:
        original_metrics(self, step, values)
        if "loss" not in values:
            return
        state["step"], state["wall"][step] = step, time.perf_counter()
        if cuda:  # the allocator's cache flushes so far (each a wait for the whole device)
            state["retries"][step] = torch.cuda.memory_stats().get("num_alloc_retries", 0)
        if prof is not None:
            if not state["started"]:
                prof.start()
                state["started"] = True
            else:
                prof.step()

    memory: dict[str, float] = {}
    original_loss = causal_lm_model.packed_loss

    def packed_loss(model: Any, batch: dict[str, Any], *a: Any, **k: Any) -> Any:
        # Step `first`'s forward, counted by the training forwards (grad_accum 1): the engine reports a step
        # after it has queued the next one, so the metrics' step is one behind the forward being queued.
        state["forwards"] += torch.is_grad_enabled()
        record = cuda and state["forwards"] == first and torch.is_grad_enabled() and "before" not in memory
        if record:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            memory["before"] = torch.cuda.memory_allocated()
        out = original_loss(model, batch, *a, **k)
        if record:
            torch.cuda.synchronize()
            memory["after_forward"] = torch.cuda.memory_allocated()
            memory["peak_in_forward"] = torch.cuda.max_memory_allocated()
            memory["tokens"] = int(batch["input_ids"].numel())
        return out

    reporters.StoreReporter.on_metrics = on_metrics  # type: ignore[method-assign]
    causal_lm_model.packed_loss = packed_loss  # type: ignore[assignment]
    began = time.perf_counter()
    found = lora.run_ours(preset, examples, device=device, dtype=dtype, steps=preset.steps,
                          warmup=preset.warmup_steps, compile=None, attention="auto", log=print)
    if prof is not None and state["started"]:
        prof.stop()
    found["peak_gib"] = found["peak_bytes"] / 2**30 if found["peak_bytes"] else None
    print(f"ours: {json.dumps(found)}  ({time.perf_counter() - began:.0f} s in all; budget {args.budget})")

    window = range(preset.warmup_steps + 1, preset.warmup_steps + preset.steps + 1)
    inside = [p for p in pauses if p[0] + 1 in window]
    by_gen: dict[int, list[float]] = {}
    for _, gen, seconds in inside:
        by_gen.setdefault(gen, []).append(seconds)
    print("GC pauses in the timed steps: " + (", ".join(
        f"gen {g}: {len(s)} taking {sum(s) * 1000:.1f} ms (longest {max(s) * 1000:.1f} ms)" for g, s in sorted(by_gen.items()))
        or "none"))
    wall = state["wall"]
    durations = {s: wall[s] - wall[s - 1] for s in wall if s - 1 in wall}  # the profiled steps may be warm-up ones
    timed = [s for s in durations if s in window]
    slow = sorted(timed, key=lambda s: durations[s], reverse=True)[:6]
    print("slowest steps (wall s): " + ", ".join(f"{s}: {durations[s]:.3f}" for s in slow))
    retries = state["retries"]
    if retries:  # per step, as reported: a step's metrics come once the next step is queued
        grew = {s: retries[s] - retries[s - 1] for s in retries if s - 1 in retries and retries[s] > retries[s - 1]}
        print(f"allocator retries: {max(retries.values())} in all; by step reported: "
              + (", ".join(f"{s}: +{n}" for s, n in sorted(grew.items())) or "none after the first"))
    if memory:
        layers = preset.num_layers
        held = memory["after_forward"] - memory["before"]
        print(f"memory: {memory['before'] / 2**30:.2f} GiB allocated before step {first}'s forward, "
              f"{memory['after_forward'] / 2**30:.2f} GiB after it ({held / 2**30:.2f} GiB held for backward: "
              f"{held / max(1, memory['tokens']) / layers / 1024:.1f} KiB per token per layer), peak in forward "
              f"{memory['peak_in_forward'] / 2**30:.2f} GiB")
    if prof is None or not cuda:
        return
    profiled = [durations[s] for s in range(first, last + 1) if s in durations]
    kernels: dict[str, float] = {}
    counts: dict[str, int] = {}
    busy = 0.0
    for e in prof.events():
        device_us = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0) or 0
        if device_us <= 0:
            continue
        busy += device_us
        label = category(e.name)
        kernels[label] = kernels.get(label, 0.0) + device_us
        counts[label] = counts.get(label, 0) + 1
    steps_n = max(1, len(profiled))
    wall_ms = max(1e-9, sum(profiled) * 1000 / steps_n)
    print(f"profiled steps {first}-{last}: wall {wall_ms:.1f} ms a step, GPU busy {busy / 1000 / steps_n:.1f} ms a step "
          f"({busy / 1000 / steps_n / wall_ms:.0%})")
    for label, us in sorted(kernels.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<40} {us / 1000 / steps_n:8.1f} ms a step  ({counts[label] // steps_n} kernels)")
    sort_key = "self_device_time_total"
    try:
        table = prof.key_averages().table(sort_by=sort_key, row_limit=22, max_name_column_width=70)
    except Exception:  # noqa: BLE001 - older torch names the column after CUDA
        table = prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=22, max_name_column_width=70)
    print(table)
    cpu_ops = sorted(prof.key_averages(), key=lambda a: -a.self_cpu_time_total)[:12]
    print("CPU time by op (ms a step): " + ", ".join(f"{a.key[:40]} {a.self_cpu_time_total / 1000 / steps_n:.1f}"
                                                     for a in cpu_ops))


if __name__ == "__main__":
    main()
