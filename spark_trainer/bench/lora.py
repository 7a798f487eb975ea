"""`spark-trainer bench lora`: our engine against Hugging Face Trainer + PEFT on the same job.

All three run in one process on the same random-initialised model and the same synthetic length
mix. Our side is the product path: the job is written as a model folder and a JSONL file, submitted
like a run file (run-file defaults for everything the preset does not set: precision auto, compile
auto, flex attention on CUDA, cosine schedule, clipping, evaluation every 50 steps on a 10% split,
checkpoints every 100) and trained by `jobs.worker.train`, the function the worker process runs,
with the store-backed reporter. Its figures come from the metrics that run wrote (wall time and real
tokens of every step), so reporting, evaluation and checkpoint cadence count against it. The
Trainer runs on naively packed rows (examples attend to each other) and with dynamic padding.
The figure that counts is real (non-padding) tokens per second; MFU counts useful FLOPs only.
"""

from __future__ import annotations

import gc
import math
import tempfile
from pathlib import Path
from typing import Any

from spark_trainer.bench import mfu
from spark_trainer.bench.rounds import median_figures, median_ratios, ratio_lines, rounds_note, take_turns
from spark_trainer.bench.workload import PRESETS, Preset, synthetic_examples, write_model_folder, write_text_rows
from spark_trainer.errors import BadInput, OperationFailed
from spark_trainer.recipes.causal_lm_impl import attention_for


def ours_config(preset: Preset, model_dir: Path, data: Path, *, steps: int, compile: bool | None,
                attention: str) -> Any:
    """A run file for the preset's job: only what the job fixes is set, the rest are run-file defaults."""
    from spark_trainer.config.schema import ExperimentConfig

    train: dict[str, Any] = {"max_steps": steps, "batch_size": preset.batch_size}
    if compile is not None:
        train["compile"] = compile
    return ExperimentConfig.model_validate({
        "project": "bench", "name": f"bench-{preset.name}", "recipe": "causal-lm", "base_model": str(model_dir),
        "dataset": str(data), "train": train,
        "recipe_config": {"lora_r": preset.lora_r, "lora_alpha": 2 * preset.lora_r, "attention": attention,
                          "seq_len": preset.seq_len}})


def run_ours(preset: Preset, examples: list[list[int]], *, device: Any, dtype: Any, steps: int, warmup: int,
             compile: bool | None, attention: str, log: Any = None) -> dict[str, Any]:
    import torch

    from spark_trainer.config import load_config
    from spark_trainer.jobs import worker
    from spark_trainer.jobs.submit import CONFIG_NAME, submit_config
    from spark_trainer.store import artifacts, metrics, runs
    from spark_trainer.store.store import Store
    from spark_trainer.training.reporting import Commands

    cuda = device.type == "cuda"
    with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
        root = Path(tmp)
        model_dir = write_model_folder(preset, root / "model", device, dtype)
        data = write_text_rows(examples, root / "train.jsonl")
        store = Store.open(root / "home")
        try:
            config = ours_config(preset, model_dir, data, steps=warmup + steps, compile=compile, attention=attention)
            run = submit_config(store, config, base_dir=root).run
            frozen = load_config(Path(run.run_dir) / CONFIG_NAME)
            if log:
                log(f"  ours: run {run.id} in {root}, worker.train with the run file's defaults "
                    f"(compile {frozen.train.compile}, precision {frozen.train.precision})")
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                torch.cuda.reset_accumulated_memory_stats()
            outcome = worker.train(store, run.id, frozen, Path(run.run_dir), Commands())
            peak = torch.cuda.max_memory_allocated() if cuda else None
            # Times the caching allocator found no free block, freed its cache and allocated again (a
            # device-wide wait each): a suspect for the slow step after a cold compile (benchmarks/results).
            retries = torch.cuda.memory_stats().get("num_alloc_retries") if cuda else None
            if outcome.status != "completed":
                raise OperationFailed(f"our engine's benchmark run ended {outcome.status} at step {outcome.step}")
            found = metrics.read(store, run.id)
            fell_back = [e.reason for e in runs.events(store, run.id) if e.reason.startswith("torch.compile failed")]
            saved_at = [a.step for a in artifacts.list_for(store, run.id, "checkpoint")]
        finally:
            store.close()
    by_key: dict[str, dict[int, Any]] = {}
    for m in found:
        by_key.setdefault(m.key, {})[m.step] = m
    tokens_at, losses = by_key.get("tokens", {}), by_key.get("loss", {})
    window = range(warmup + 1, warmup + steps + 1)
    missing = [s for s in window if s not in tokens_at]
    if missing:
        raise OperationFailed(f"our benchmark run reported no tokens for steps {missing[:5]}")
    tokens = int(sum(tokens_at[s].value for s in window))
    seconds = losses[warmup + steps].wall_time - losses[warmup].wall_time
    spread = window_spread({s: losses[s].wall_time for s in range(warmup, warmup + steps + 1)}, warmup + 1,
                           warmup + steps)
    # Side work inside the timed steps (the final evaluation and checkpoint come after the last one).
    inside = range(warmup + 1, warmup + steps)
    evals = sorted(s for s in by_key.get("eval_loss", {}) if s in inside)
    checkpoints = sorted(s for s in saved_at if s in inside)
    warm = by_key.get("compile_warmup_s", {})
    efficiency = by_key.get("packing_efficiency", {})
    return {"tokens_per_s": tokens / seconds, "tokens": tokens, "seconds": seconds, "peak_bytes": peak,
            "examples_apart": True, "attention": attention_for(attention, frozen.train.compile, device.type),
            "compiled": bool(warm), "compile_setting": frozen.train.compile, "compile_fallback": fell_back,
            "compile_warmup_s": next(iter(warm.values())).value if warm else None,
            "packing_efficiency": next(iter(efficiency.values())).value if efficiency else None,
            "evals_in_window": evals, "checkpoints_in_window": checkpoints, "alloc_retries": retries, **spread}


def window_spread(wall: dict[int, float], first: int, last: int) -> dict[str, Any]:
    """Where the timed steps' seconds went. A step's time is the wall time between its metrics and the
    previous step's, so an evaluation or checkpoint lands in the step after it. A steady step is their
    median; `beyond_steady_s` is what the window took beyond that many steady steps (side work, slow
    steps), and the slowest three steps say where. On an H200 the default run's steps took 0.20 s but
    its 50 took 11.7 s: the evaluation inside them and the rest cost 1.7 s (benchmarks/results)."""
    import statistics

    durations = {s: wall[s] - wall[s - 1] for s in range(first, last + 1)}
    median = statistics.median(durations.values())
    slowest = sorted(durations, key=lambda s: durations[s], reverse=True)[:3]
    return {"step_s_median": median, "beyond_steady_s": wall[last] - wall[first - 1] - median * len(durations),
            "slowest_steps": [[s, durations[s]] for s in slowest],
            "step_s": [round(durations[s], 4) for s in range(first, last + 1)]}  # every timed step, in order


def bench_lora(preset_name: str = "tiny", *, steps: int | None = None, compile: bool | None = None,
               attention: str = "auto", engines: tuple[str, ...] = ("ours", "packed", "padded"),
               repeats: int = 1, log: Any = None) -> dict[str, Any]:
    """Run the engines and return their figures and ratios (see the module docstring).

    With `repeats` > 1 the engines take turns (ours, packed, padded, ours, ...), so a machine whose
    load drifts slows each of them alike; each engine's figures are those of its median round and
    each ratio is the median of the rounds' ratios (each round's engines ran back to back).
    """
    import torch

    from spark_trainer.bench.baselines import run_trainer

    if preset_name not in PRESETS:
        raise BadInput(f"unknown preset {preset_name!r}; presets are: {', '.join(PRESETS)}")
    unknown = [e for e in engines if e not in ("ours", "packed", "padded")]
    if unknown:
        raise BadInput(f"unknown engine {unknown[0]!r}; engines are: ours, packed, padded")
    preset = PRESETS[preset_name]
    steps = steps or preset.steps
    warmup = preset.warmup_steps
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else ("fp16" if cuda else "fp32")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    # Enough examples for the packed engines' rows (ours holds 10% out for validation, run-file
    # default); the padded engine uses the first few.
    mean_len = preset.median_len * math.exp(0.75**2 / 2)
    n = int((warmup + steps) * preset.batch_size * preset.seq_len / mean_len * 1.3 / 0.9) + 64
    examples = synthetic_examples(preset, n)

    def run_one(engine: str) -> dict[str, Any]:
        if engine == "ours":
            found = run_ours(preset, examples, device=device, dtype=dtype, steps=steps, warmup=warmup,
                             compile=compile, attention=attention, log=log)
        else:
            found = run_trainer(preset, examples, packed=engine == "packed", device=device, precision=precision,
                                steps=steps, warmup=warmup)
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        return found

    rounds = take_turns(engines, run_one, repeats, describe=f"{preset.name}, {steps} timed steps after {warmup} warm-up",
                        log=log)
    flops = _flops_per_token(preset, examples)
    peak_flops = mfu.peak_flops(torch.cuda.get_device_name(0) if cuda else "cpu", precision)
    for found in rounds:
        for figures in found.values():
            figures["mfu"] = figures["tokens_per_s"] * flops / peak_flops if peak_flops else None
    results = median_figures(rounds, "tokens_per_s")
    pairs = {"ours_vs_packed": ("ours", "packed", "tokens_per_s"), "ours_vs_padded": ("ours", "padded", "tokens_per_s")}
    if cuda:
        pairs["memory_ours_vs_packed"] = ("ours", "packed", "peak_bytes")
    ratios, by_round = median_ratios(rounds, pairs)
    return {"preset": preset.name, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "precision": precision, "steps": steps, "warmup_steps": warmup, "seq_len": preset.seq_len,
            "batch_size": preset.batch_size, "median_len": preset.median_len,
            "compile": "auto" if compile is None else compile, "flops_per_token": flops, "peak_flops": peak_flops,
            "torch": torch.__version__, "repeats": repeats, "engines": results, "ratios": ratios,
            **({"ratios_by_round": by_round} if repeats > 1 else {})}


def _flops_per_token(preset: Preset, examples: list[list[int]]) -> float:
    from spark_trainer.estimate import ModelShape, lora_params

    config = preset.model_config()
    shape = ModelShape.from_config(config.to_dict())
    return mfu.train_flops_per_token(
        matmul_params=mfu.matmul_params(config), trainable=lora_params(shape, preset.lora_r), layers=shape.num_layers,
        hidden=shape.hidden_size, context=mfu.mean_context([len(e) for e in examples]), full=False)


def format_report(report: dict[str, Any]) -> str:
    names = {"ours": "spark-trainer (packed, examples apart)", "packed": "HF Trainer + PEFT, naive packing",
             "padded": "HF Trainer + PEFT, dynamic padding"}
    lines = [f"bench lora --preset {report['preset']} on {report['device']} ({report['precision']}, "
             f"seq_len {report['seq_len']}, batch {report['batch_size']}, median example {report['median_len']} "
             f"tokens, {report['steps']} timed steps, compile {report['compile']}, torch {report['torch']}"
             f"{rounds_note(report)})"]
    for key, r in report["engines"].items():
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**30:.1f} GiB"
        mfu_text = "-" if r.get("mfu") is None else f"{r['mfu']:.1%}"
        eff = "-" if r.get("packing_efficiency") is None else f"{r['packing_efficiency']:.1%}"
        lines.append(f"  {names[key]:<42} {r['tokens_per_s']:>12,.0f} real tokens/s   MFU {mfu_text:>6}   "
                     f"peak {peak:>9}   rows {eff:>6} real   examples apart: {'yes' if r['examples_apart'] else 'no'}")
    ours = report["engines"].get("ours")
    if ours:
        warm = ours.get("compile_warmup_s")
        state = "compiled" if ours["compiled"] else ("eager after a compile failure" if ours["compile_fallback"] else "eager")
        lines.append(f"  ours: compile {ours['compile_setting']} -> {state}"
                     + (f", warm-up {warm:.1f} s (not in the timed steps)" if warm is not None else "")
                     + f", evaluations in the timed steps: {len(ours['evals_in_window'])}, "
                     f"checkpoints: {len(ours['checkpoints_in_window'])}"
                     + (f", allocator retries: {ours['alloc_retries']}" if ours.get("alloc_retries") is not None else ""))
        if ours.get("step_s_median") is not None:
            slow = ", ".join(f"{step} ({s:.2f} s)" for step, s in ours["slowest_steps"])
            lines.append(f"  ours: a steady step {ours['step_s_median']:.3f} s; the timed steps took "
                         f"{ours['beyond_steady_s']:.2f} s beyond that many steady ones (slowest steps: {slow})")
    lines.extend(ratio_lines(report))
    return "\n".join(lines)
