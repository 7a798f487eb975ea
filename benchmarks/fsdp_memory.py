"""Peak memory per GPU of a full fine-tune with train.sharding none vs fsdp, and a resume on one GPU.

Trains a random-initialised Llama of a fixed shape (built from a config, nothing downloaded) through
the real path, `spark-trainer train RUN_FILE --wait`, on N GPUs (default: all), once unsharded (DDP)
and once with FSDP, while sampling `nvidia-smi` for each GPU's used memory. Each rank also logs its
torch peak ("rank R: peak GPU memory ..." in worker.log). Then the FSDP run is repeated, killed after
its first checkpoint and resumed with `run resume --gpus 0` (one GPU, unsharded, grad_accum x N);
its losses are compared with the unsharded run's (the same rows per step; bf16, so to ~1e-2).

Needs 2+ GPUs for the FSDP part; with one GPU it measures the unsharded run only and says so.
Writes a JSON report to $OUT/fsdp_memory.json (and benchmarks/results/). Figures are per machine.

Run: python benchmarks/fsdp_memory.py [--gpus N] [--steps 12] [--layers 8]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from spark_trainer.bench.workload import Preset, synthetic_examples, write_model_folder, write_text_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def gpu_count() -> int:
    done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return len([line for line in done.stdout.splitlines() if line.startswith("GPU ")])


class MemorySampler:
    """The highest `memory.used` (MiB) of each GPU while running."""

    def __init__(self) -> None:
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            done = subprocess.run(["nvidia-smi", "--query-gpu=index,memory.used", "--format=csv,noheader,nounits"],
                                  capture_output=True, text=True)
            for line in done.stdout.splitlines():
                index, used = (int(x) for x in line.split(","))
                self.peak[index] = max(self.peak.get(index, 0), used)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), *args], cwd=ROOT,
                          capture_output=True, text=True, check=check)


def run_file(folder: Path, model: Path, data: Path, gpus: str, sharding: str, steps: int, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "project": "fsdp-check", "name": name, "recipe": "causal-lm", "base_model": str(model), "dataset": str(data),
        "gpus": gpus, "train": {"max_steps": steps, "batch_size": 2, "seq_len": 2048, "learning_rate": 1e-5,
                                "sharding": sharding, "compile": False, "warmup_steps": 0},
        "recipe_config": {"method": "full"},
        "eval": {"every_steps": None, "val_fraction": 0.05, "max_batches": 2},
        "checkpoint": {"every_steps": max(1, steps // 3), "keep": 1}}))
    return path


def run_of(stdout: str) -> dict:
    """The run a `--json` command printed (a run, or a document holding one under "run")."""
    try:
        data = json.loads(stdout[stdout.find("{"):])
    except ValueError:
        return {}
    return data.get("run", data) if isinstance(data, dict) else {}


def losses(home: Path, run_id: int) -> dict[int, float]:
    found = json.loads(cli(home, "--json", "run", "metrics", str(run_id), "--key", "loss").stdout)
    return {m["step"]: m["value"] for m in found}


def rank_peaks(home: Path, run_id: int) -> list[str]:
    log = (home / "runs" / str(run_id) / "worker.log").read_text(errors="replace")
    return [line.strip() for line in log.splitlines() if "peak GPU memory" in line]


def train(home: Path, path: Path) -> dict:
    began = time.perf_counter()
    with MemorySampler() as sampler:
        done = cli(home, "--json", "train", str(path), "--wait", check=False)
    run_id = run_of(done.stdout).get("id")
    return {"exit": done.returncode, "run": run_id, "seconds": round(time.perf_counter() - began, 1),
            "gpu_used_mib": sampler.peak, "rank_peaks": rank_peaks(home, run_id) if run_id else [],
            "losses": losses(home, run_id) if run_id else {}, "error": done.stderr[-800:] if done.returncode else ""}


def kill_and_resume(home: Path, path: Path) -> dict:
    """Start the FSDP run, kill its process group after the first checkpoint, resume it on GPU 0."""
    run_id = run_of(cli(home, "--json", "train", str(path)).stdout)["id"]
    folder = home / "runs" / str(run_id) / "checkpoints"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        run = run_of(cli(home, "--json", "run", "show", str(run_id)).stdout)
        if run.get("pid") and folder.is_dir() and any(p.name.startswith("step-") for p in folder.iterdir()):
            os.killpg(int(run["pid"]), signal.SIGKILL)
            break
        time.sleep(0.5)
    time.sleep(2)
    cli(home, "run", "list")  # reconciles: the run becomes interrupted
    resumed = cli(home, "--json", "run", "resume", str(run_id), "--gpus", "0", "--wait", check=False)
    log = (home / "runs" / str(run_id) / "worker.log").read_text(errors="replace")
    return {"run": run_id, "exit": resumed.returncode, "losses": losses(home, run_id),
            "grad_accum_note": [line.strip() for line in log.splitlines() if "keeps" in line and "rows per step" in line],
            "error": resumed.stderr[-800:] if resumed.returncode else ""}


def compare(a: dict[int, float], b: dict[int, float]) -> float | None:
    common = sorted(set(a) & set(b))
    return max(abs(a[s] - b[s]) / max(abs(b[s]), 1e-9) for s in common) if common else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=None, help="GPUs to use (default: all)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--layers", type=int, default=8, help="decoder layers of the 2048-wide model")
    args = parser.parse_args()
    n = args.gpus or gpu_count()
    preset = Preset("fsdp-check", vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_layers=args.layers,
                    num_heads=32, num_kv_heads=4, seq_len=2048, batch_size=2, median_len=1500, lora_r=16,
                    steps=args.steps, warmup_steps=0)
    work = Path(tempfile.mkdtemp(prefix="fsdp-check-"))
    import torch

    model = write_model_folder(preset, work / "model", "cpu", torch.float32)
    data = write_text_rows(synthetic_examples(preset, 400), work / "rows.jsonl")
    gpus = ",".join(str(i) for i in range(n))
    report: dict = {"gpus": n, "gpu_name": torch.cuda.get_device_name(0), "layers": args.layers, "steps": args.steps}
    report["none"] = train(work / "home", run_file(work, model, data, gpus, "none", args.steps, "full-none"))
    if n < 2:
        report["note"] = f"FSDP needs 2+ GPUs; this machine has {n}: measured the unsharded run only"
    else:
        report["fsdp"] = train(work / "home", run_file(work, model, data, gpus, "fsdp", args.steps, "full-fsdp"))
        report["fsdp_vs_none_max_rel_loss_diff"] = compare(report["fsdp"]["losses"], report["none"]["losses"])
        report["resume_on_one_gpu"] = kill_and_resume(
            work / "home", run_file(work, model, data, gpus, "fsdp", args.steps, "full-fsdp-resume"))
        report["resumed_vs_none_max_rel_loss_diff"] = compare(report["resume_on_one_gpu"]["losses"],
                                                              report["none"]["losses"])
    for mode in ("none", "fsdp"):
        if mode in report:
            r = report[mode]
            used = ", ".join(f"GPU {i}: {m / 1024:.1f} GiB" for i, m in sorted(r["gpu_used_mib"].items()))
            print(f"sharding {mode}: exit {r['exit']}, {r['seconds']} s; nvidia-smi peak used {used}")
            for line in r["rank_peaks"]:
                print(f"  {line}")
            if r["error"]:
                print(f"  error: {r['error']}")
    for key in ("note", "fsdp_vs_none_max_rel_loss_diff", "resumed_vs_none_max_rel_loss_diff"):
        if key in report:
            print(f"{key}: {report[key]}")
    if "resume_on_one_gpu" in report:
        print(f"resume on GPU 0: exit {report['resume_on_one_gpu']['exit']}; "
              f"{report['resume_on_one_gpu']['grad_accum_note']}")
    out = Path(os.environ.get("OUT", RESULTS))
    out.mkdir(parents=True, exist_ok=True)
    (out / "fsdp_memory.json").write_text(json.dumps(report, indent=2, default=str))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"fsdp_memory_{time.strftime('%Y%m%d-%H%M', time.gmtime())}.json").write_text(
        json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
