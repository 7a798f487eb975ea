"""Worker start-up: the libraries a LoRA run's worker imports, with and without bitsandbytes.

bitsandbytes wraps its kernels in torch.compile at import, which pulls in torch's dynamo and inductor;
peft and transformers import it whenever it is installed. `spark_trainer/jobs/lean_imports.py` keeps
it out of workers whose run does not quantize. Each round starts two fresh processes in turn (the
default import, then with bitsandbytes kept out exactly as the worker does) and times the imports a
LoRA run makes before training; the report gives each side's median and the median of the rounds'
ratios. Processes are timed in turns so that a machine's changing load falls on both sides.

Run: .venv/bin/python benchmarks/bench_worker_imports.py [--rounds 7]
Needs bitsandbytes installed (it is a dependency of the project).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

IMPORTS = ("import torch, transformers, accelerate, peft\n"
           "from transformers import AutoModelForCausalLM, LlamaForCausalLM\n"
           "from peft import LoraConfig, get_peft_model\n")
KEEP_OUT = "import sys\nfor name in ('bitsandbytes',):\n    sys.modules[name] = None\n"


def timed(code: str) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    timed(IMPORTS)  # warm the file cache once
    default, lean = [], []
    for _ in range(args.rounds):
        default.append(timed(IMPORTS))
        lean.append(timed(KEEP_OUT + IMPORTS))
    ratios = [d / s for d, s in zip(default, lean, strict=True)]
    print(f"worker imports, {args.rounds} rounds in turns")
    print(f"  default (bitsandbytes imported): median {statistics.median(default):.2f} s")
    print(f"  bitsandbytes kept out:           median {statistics.median(lean):.2f} s")
    print(f"  default / kept out: {statistics.median(ratios):.2f}x (per round: "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
