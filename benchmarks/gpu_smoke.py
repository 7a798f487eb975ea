"""A short training smoke test for a CUDA machine (runs on the CPU too, more slowly).

Trains a tiny local model with the real engine (bf16 and flex attention on CUDA), stops it half
way, resumes it, and checks: loss falls, the resumed losses match an uninterrupted run, and the
flex-attention BlockMask gives the same packed loss as the sdpa block-diagonal mask.
Run: `python benchmarks/gpu_smoke.py` (prints one line per check, exits non-zero on failure).
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.models.tiny import create_tiny_causal_lm
from spark_trainer.training.checkpoints import latest_checkpoint
from spark_trainer.training.engine import run_training
from spark_trainer.training.reporting import Commands


class Recorder:
    def __init__(self, commands: Commands, stop_at: int | None = None) -> None:
        self.losses: dict[int, float] = {}
        self.last: dict[str, float] = {}
        self.commands, self.stop_at = commands, stop_at

    def on_start(self, *, start_step: int, total_steps: int) -> None: ...
    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None: ...
    def on_artifact(self, kind, path, step=None, meta=None) -> None: ...
    def flush(self) -> None: ...

    def on_log(self, message: str) -> None:
        print("  log:", message)

    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        self.last.update(values)
        if "loss" in values:
            self.losses[step] = values["loss"]
            if step == self.stop_at:
                self.commands.request_stop()


def train(config: ExperimentConfig, data: Path, run_dir: Path, stop_at: int | None = None, resume=None):
    commands = Commands()
    rec = Recorder(commands, stop_at)
    outcome = run_training(config, data_path=data, run_dir=run_dir, reporter=rec, commands=commands,
                           resume_from=resume)
    return outcome, rec


def main() -> int:
    import torch

    failures = []
    root = Path(tempfile.mkdtemp(prefix="spark-smoke-"))
    model = create_tiny_causal_lm(root / "tiny", hidden_size=128, num_layers=2, max_position_embeddings=512)
    rng = random.Random(0)
    rows = [{"text": "count " + " ".join(str(s + k) for k in range(rng.randint(4, 12)))}
            for s in (rng.randint(0, 30) for _ in range(400))]
    data = root / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = ExperimentConfig.model_validate({
        "name": "smoke", "recipe": "causal-lm", "base_model": str(model), "dataset": str(data), "gpus": "auto",
        "train": {"max_steps": 40, "learning_rate": 1e-2, "batch_size": 8, "warmup_steps": 2},
        "eval": {"every_steps": 20, "val_fraction": 0.1, "samples_every_steps": 40},
        "checkpoint": {"every_steps": None},
        "recipe_config": {"target_modules": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj,lm_head",
                          "seq_len": 256},
    })
    began = time.perf_counter()
    done, straight = train(config, data, root / "straight")
    print(f"uninterrupted: {done.status} step {done.step}, loss {straight.losses[1]:.3f} -> "
          f"{straight.losses[done.step]:.3f}, {time.perf_counter() - began:.1f}s, metrics {straight.last}")
    if not straight.losses[done.step] < 0.6 * straight.losses[1]:
        failures.append("loss did not fall")
    stopped, _ = train(config, data, root / "resumed", stop_at=20)
    resumed, second = train(config, data, root / "resumed", resume=latest_checkpoint(root / "resumed"))
    diffs = [abs(second.losses[s] - straight.losses[s]) for s in range(21, 41)]
    print(f"stop/resume: {stopped.status} at {stopped.step}, then {resumed.status} at {resumed.step}; "
          f"max |loss diff| over steps 21..40 = {max(diffs):.3g}")
    if stopped.step != 20 or resumed.step != 40 or max(diffs) > 1e-3:
        failures.append("resume did not continue where it stopped")

    if torch.cuda.is_available():
        from transformers import AutoModelForCausalLM

        from spark_trainer.recipes.causal_lm_model import packed_loss
        from spark_trainer.training.packing import Example, collate, pack

        examples = [Example([1] + [rng.randrange(3, 500) for _ in range(n)], [True] * (n + 1))
                    for n in (200, 120, 90, 60, 30, 300, 250)]
        batch = {k: v.cuda() for k, v in collate(pack(examples, 512), 0, pad_to=512).items()}
        losses = {}
        for attn in ("sdpa", "flex_attention"):
            m = AutoModelForCausalLM.from_pretrained(model, attn_implementation=attn).cuda()
            loss_sum, count = packed_loss(m, batch, attn)
            (loss_sum / count).backward()
            grad = m.model.layers[0].self_attn.q_proj.weight.grad
            losses[attn] = (float(loss_sum.detach() / count), float(grad.norm()))
        print(f"flex vs sdpa (fp32, loss, grad norm): {losses}")
        (ls, gs), (lf, gf) = losses["sdpa"], losses["flex_attention"]
        if abs(ls - lf) > 1e-4 * abs(ls) or abs(gs - gf) > 1e-3 * abs(gs):
            failures.append("flex BlockMask and sdpa mask disagree")
        compiled = config.model_copy(update={"train": config.train.model_copy(update={"compile": True})})
        began = time.perf_counter()
        done_c, rec_c = train(compiled, data, root / "compiled")
        print(f"torch.compile run: {done_c.status} step {done_c.step}, loss {rec_c.losses[1]:.3f} -> "
              f"{rec_c.losses[done_c.step]:.3f}, {time.perf_counter() - began:.1f}s")
        if done_c.status != "completed" or not rec_c.losses[done_c.step] < 0.6 * rec_c.losses[1]:
            failures.append("compiled run did not learn")
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB on {torch.cuda.get_device_name(0)}")
    print("SMOKE OK" if not failures else f"SMOKE FAILED: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
