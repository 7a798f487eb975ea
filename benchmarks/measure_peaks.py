"""Measure real peak GPU memory of training runs, next to what `spark_trainer.estimate` predicts.

Each configuration trains a few steps through the engine (`run_training`, run-file defaults: compile
auto, so compiled on CUDA) in its own process, on a random-initialised model of the named shape. The
measured peak is the allocator's reserved peak plus the CUDA context (measured once in an idle
process), i.e. what the run takes from the GPU's free memory. Results go to
benchmarks/results/estimate_peaks.json (and to $OUT/ when set); `calibrate_estimate.py` fits the
estimate's constants to them.

Run: `python benchmarks/measure_peaks.py [--only NAME ...] [--steps N] [--jobs N]` on a CUDA machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from spark_trainer.bench.workload import PRESETS, Preset, synthetic_examples, write_model_folder, write_text_rows

RESULTS = Path(__file__).resolve().parent / "results"
ONE_B = PRESETS["1b"]
# A Qwen2.5-0.5B-shaped model (large vocabulary: the logits term matters), fully fine-tuned.
HALF_B = Preset("0.5b", vocab_size=151936, hidden_size=896, intermediate_size=4864, num_layers=24, num_heads=14,
                num_kv_heads=2, seq_len=2048, batch_size=4, median_len=350, lora_r=16, steps=4, warmup_steps=0)
CONFIGS = {
    "1b-lora-b8": (ONE_B, {"method": "lora"}, 8),
    "1b-lora-b2": (ONE_B, {"method": "lora"}, 2),
    "1b-qlora-b8": (ONE_B, {"method": "qlora"}, 8),
    "0.5b-full-b4": (HALF_B, {"method": "full"}, 4),
}


class _Quiet:
    def on_start(self, **kw): ...
    def on_metrics(self, step, values): ...
    def on_progress(self, *a): ...
    def on_artifact(self, *a, **k): ...
    def on_log(self, message): print("  log:", message, file=sys.stderr)
    def on_event(self, message): print("  event:", message, file=sys.stderr)
    def flush(self): ...


def run_config(name: str, steps: int) -> dict:
    """Train `name` for `steps` steps in this process; its peak figures."""
    import torch

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.training.engine import run_training
    from spark_trainer.training.reporting import Commands

    preset, recipe, batch = CONFIGS[name]
    preset = replace(preset, batch_size=batch)
    with tempfile.TemporaryDirectory(prefix="spark-peaks-") as tmp:
        root = Path(tmp)
        model = write_model_folder(preset, root / "model", torch.device("cuda"), torch.bfloat16)
        torch.cuda.empty_cache()
        n = steps * batch * preset.seq_len // preset.median_len * 2 + 64
        data = write_text_rows(synthetic_examples(preset, n), root / "train.jsonl")
        config = ExperimentConfig.model_validate({
            "name": name, "recipe": "causal-lm", "base_model": str(model), "dataset": str(data),
            "train": {"max_steps": steps, "batch_size": batch},
            "recipe_config": {"lora_r": preset.lora_r, "lora_alpha": 2 * preset.lora_r, "seq_len": preset.seq_len,
                              **recipe},
            "eval": {"every_steps": None, "val_fraction": 0.0}, "checkpoint": {"every_steps": None}})
        torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        outcome = run_training(config, data_path=data, run_dir=root / "run", reporter=_Quiet(), commands=Commands())
        seconds = time.perf_counter() - began
        return {"name": name, "status": outcome.status, "seconds": round(seconds, 1),
                "peak_reserved_bytes": torch.cuda.max_memory_reserved(),
                "peak_allocated_bytes": torch.cuda.max_memory_allocated(),
                "config": config.model_dump(mode="json"), "model_config": json.loads((model / "config.json").read_text())}


def raw_parts(model_config: dict, method: str, batch_size: int, seq_len: int, lora_r: int,
              gradient_checkpointing: bool = False) -> dict:
    """The estimate's parts with k = 1 and c = 0 (what the calibration fits), by the current formula."""
    from spark_trainer import estimate

    return estimate.estimate_peak_memory(
        estimate.ModelShape.from_config(model_config), method=method, batch_size=batch_size, seq_len=seq_len,
        precision="bf16", lora_r=lora_r, gradient_checkpointing=gradient_checkpointing,
        calibration=estimate.Calibration(1.0, 0, 0, "raw")).parts


def parts_now(point: dict) -> dict:
    """A measured point's parts by the current formula (for a configuration of CONFIGS; else as stored):
    a change to the formula is judged against the peaks already measured, with no GPU."""
    if point.get("name") not in CONFIGS:
        return point["parts"]
    preset, recipe, batch = CONFIGS[point["name"]]
    return raw_parts(preset.model_config().to_dict(), recipe["method"], batch, preset.seq_len, preset.lora_r)


def context_bytes() -> int:
    """GPU memory a CUDA process uses beyond its allocator (context, cuBLAS workspace), measured idle."""
    import torch

    x = torch.ones(1024, 1024, device="cuda") @ torch.ones(1024, 1024, device="cuda")  # cuBLAS initialised
    torch.cuda.synchronize()
    free, total = torch.cuda.mem_get_info()
    del x
    return int(total - free - torch.cuda.memory_reserved())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(CONFIGS), help="configurations (default: all)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--one", choices=list(CONFIGS), help=argparse.SUPPRESS)  # child-process role
    parser.add_argument("--context", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=150, help="seconds per configuration")
    parser.add_argument("--jobs", type=int, default=1,
                        help="configurations measured at once, each in its own process (peaks are per process; "
                             "their sum must fit the GPU)")
    parser.add_argument("--context-bytes", type=int,
                        help="the CUDA context's size, measured beforehand (`--context`) while the GPU was idle; "
                             "measured here when not given, which needs no other process on the GPU")
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_config(args.one, args.steps)), flush=True)
        return 0
    if args.context:
        print("RESULT " + json.dumps({"context_bytes": context_bytes()}), flush=True)
        return 0

    def child(*extra: str) -> dict | None:
        try:
            done = subprocess.run([sys.executable, __file__, *extra, "--steps", str(args.steps)], capture_output=True,
                                  text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"{extra}: timed out after {args.timeout:.0f} s")
            return None
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if done.returncode or not lines:
            print(f"{extra}: failed (rc {done.returncode}): {done.stderr[-1500:]}")
            return None
        return json.loads(lines[-1][len("RESULT "):])

    if args.context_bytes is not None:
        context = args.context_bytes
    else:
        context = (child("--context") or {}).get("context_bytes", 0)
    import torch

    points: list[dict] = []
    names = args.only or list(CONFIGS)
    device = torch.cuda.get_device_name(0)

    def record(found: dict) -> None:
        """Add one configuration's point and write the document at once: gpu_check.sh's deadline may
        kill this process before the last configuration ends, and the points measured must survive."""
        train, rc = found["config"]["train"], found["config"]["recipe_config"]
        parts = raw_parts(found["model_config"], rc["method"], train["batch_size"], rc["seq_len"], rc["lora_r"],
                          train["gradient_checkpointing"])
        measured = found["peak_reserved_bytes"] + context
        point = {**{k: found[k] for k in ("name", "status", "seconds", "peak_reserved_bytes", "peak_allocated_bytes")},
                 "context_bytes": context, "measured_bytes": measured, "parts": parts,
                 "method": rc["method"], "batch_size": train["batch_size"], "seq_len": rc["seq_len"],
                 "compile": train["compile"]}
        points.append(point)
        points.sort(key=lambda p: names.index(p["name"]))
        print(f"{found['name']:<14} measured {measured / 2**30:6.2f} GiB (reserved {found['peak_reserved_bytes'] / 2**30:.2f} "
              f"+ context {context / 2**30:.2f}), {found['seconds']:.0f} s", flush=True)
        document = {"device": device, "torch": torch.__version__, "points": points}
        RESULTS.mkdir(exist_ok=True)
        for folder in [RESULTS] + ([Path(os.environ["OUT"])] if os.environ.get("OUT") else []):
            partial = folder / "estimate_peaks.json.part"  # a kill mid-write leaves the last whole file
            partial.write_text(json.dumps(document, indent=2))
            os.replace(partial, folder / "estimate_peaks.json")

    writing = threading.Lock()

    def measure(name: str) -> None:
        """One configuration, its point written before this thread starts the next one (recorded from the
        main thread, the next child could start first, and the write then raced the deadline's kill)."""
        found = child("--one", name)
        if found is not None:
            with writing:
                record(found)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for future in [pool.submit(measure, name) for name in names]:
            future.result()
    return 0 if points else 1


if __name__ == "__main__":
    sys.exit(main())
