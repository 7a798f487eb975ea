"""`train`: a run's engine in this process, from its latest complete checkpoint; with
`train.auto_batch`, an out-of-memory is retried with half the micro-batch and twice the accumulation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from spark_trainer.config import ExperimentConfig, save_config
from spark_trainer.errors import SparkError
from spark_trainer.jobs.submit import CONFIG_NAME
from spark_trainer.jobs.worker_process import say
from spark_trainer.store import artifacts, datasets, metrics, runs
from spark_trainer.store.store import Store
from spark_trainer.training.reporting import Commands, TrainOutcome


class SilentReporter:
    """Ranks other than 0 train but report nothing."""

    def on_start(self, *, start_step: int, total_steps: int) -> None: ...
    def on_metrics(self, step: int, values: dict[str, float]) -> None: ...
    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None: ...
    def on_artifact(self, kind: str, path: Path, step: int | None = None, meta: dict | None = None) -> None: ...
    def on_log(self, message: str) -> None: ...
    def flush(self) -> None: ...


def oom_message(micro_batch: int, grad_accum: int) -> str:
    return (f"CUDA out of memory at micro-batch {micro_batch} (grad_accum {grad_accum}); lower train.batch_size "
            f"(e.g. to {max(1, micro_batch // 2)}) and raise train.grad_accum to keep the effective batch, "
            "enable train.gradient_checkpointing, or set train.auto_batch: true")


def train(store: Store, run_id: int, config: ExperimentConfig, run_dir: Path, commands: Commands,
          *, report: bool = True) -> TrainOutcome:
    """Run the engine from the latest complete checkpoint; with `train.auto_batch`, retry an
    out-of-memory with half the micro-batch and double the accumulation (recorded as an event)."""
    from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
    from spark_trainer.training.engine import run_training
    from spark_trainer.training.oom import OutOfMemory
    from spark_trainer.training.reporters import StoreReporter

    commands.check_stop()
    data_path = Path(datasets.get(store, config.dataset).path)
    while True:
        checkpoint = latest_checkpoint(run_dir)
        start = checkpoint_step(checkpoint) if checkpoint else 0
        if report:
            # A killed worker may have written metrics, samples and evaluation reports past its last
            # checkpoint: drop them so the resumed run lists each step once.
            dropped = metrics.delete_after(store, run_id, start)
            records = drop_artifacts_after(store, run_id, run_dir, start)
            runs.update(store, run_id, step=start)
            if checkpoint:
                dropping = (f"dropped {dropped} metric points{f' and {records} artifact records' if records else ''} "
                            f"after step {start}")
                say(f"resuming from {checkpoint.name} ({dropping})")
                # In the run's history too: the steps trained here begin after it, not at the step the run
                # had reached (a re-import's refusal names them).
                runs.note(store, run_id, f"{runs.RESUMED_FROM}{start} ({dropping})")
        reporter = StoreReporter(store, run_id) if report else SilentReporter()
        try:
            return run_training(config, data_path=data_path, run_dir=run_dir, reporter=reporter,
                                commands=commands, resume_from=checkpoint)
        except OutOfMemory as exc:
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:
                raise  # one rank must not retry alone: the launcher stops every rank and retries them together
            if not config.train.auto_batch or exc.micro_batch <= 1:
                where = getattr(exc, "where", None)
                raise OperationFailedOOM(str(exc) if where else oom_message(exc.micro_batch, exc.grad_accum)) from exc
            config = halved(store, run_id, config, run_dir, exc.micro_batch, exc.grad_accum,
                            getattr(exc, "where", "a training step"), report)
        # Outside the except block: the failed attempt's tensors are only unreachable once the
        # exception (and its traceback's frames) is gone.
        _free_cuda_memory()


def drop_artifacts_after(store: Store, run_id: int, run_dir: Path, step: int) -> int:
    """Delete the run's artifact records past `step` (store/artifacts.delete_after) and their files
    that lie in the run's folder (samples/, eval/), as the resume writes them again; a checkpoint's
    folder is never removed here (a damaged one was set aside on purpose). Returns how many records."""
    gone = artifacts.delete_after(store, run_id, step)
    own = run_dir.resolve()
    for artifact in gone:
        path = Path(artifact.path)
        if artifact.kind != "checkpoint" and path.resolve().is_relative_to(own) and not path.is_dir():
            path.unlink(missing_ok=True)
    return len(gone)


def halved(store: Store, run_id: int, config: ExperimentConfig, run_dir: Path, micro_batch: int, grad_accum: int,
           where: str, report: bool) -> ExperimentConfig:
    """The auto_batch retry's config: half the micro-batch, double the accumulation (recorded)."""
    config = config.model_copy(deep=True)
    config.train.batch_size = micro_batch // 2
    config.train.grad_accum = grad_accum * 2
    during = "" if where == "a training step" else f" during {where}"
    note = (f"out of memory{during} at micro-batch {micro_batch}; retrying with micro-batch "
            f"{config.train.batch_size} and grad_accum {config.train.grad_accum} (same effective batch)")
    say(note)
    if report:
        runs.note(store, run_id, note)
        save_config(config, run_dir / CONFIG_NAME)
    return config


class OperationFailedOOM(SparkError):
    """Out of memory with no retry left; the message says what to change."""


def _free_cuda_memory() -> None:
    """Release what the failed attempt held before the retry builds its model again. torch.compile's caches
    go too: their graphs and guards belong to the failed attempt's model, and each attempt added entries to
    the same functions' caches until dynamo's recompile limit made the retries run eagerly (an H200 with a
    160 MiB cap: every retry ran out of memory, down to micro-batch 1)."""
    import gc

    import torch

    if "torch._dynamo" in sys.modules:
        torch._dynamo.reset()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        say(f"released the failed attempt's memory: {torch.cuda.memory_allocated() / 2**20:.0f} MiB still allocated")

