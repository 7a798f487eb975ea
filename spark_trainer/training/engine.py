"""`run_training`: one run of a recipe, on one device or several (accelerate), with exact resume.

Read top to bottom: validate and prepare (every bad input fails here, before a step runs), build
model/optimizer/schedule, restore a checkpoint if asked, then the loop: step, report, evaluate,
sample, checkpoint, honour commands. Only the main process reports and writes files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import ConfigError, DiskFull, OperationFailed
from spark_trainer.recipes.base import EvalResult, MetricSpec, Recipe, Sample
from spark_trainer.recipes.registry import RecipeSpec, get_recipe
from spark_trainer.training import accel, batches, checkpoints, diskspace, lr_plan, oom, sharding, steps
from spark_trainer.training.compiling import CompileState
from spark_trainer.training.divergence import DivergenceWatch
from spark_trainer.training.reporting import Commands, Reporter, TrainOutcome


class OutOfMemory(OperationFailed):
    """The GPU ran out of memory; `micro_batch` and `grad_accum` say what was tried."""

    def __init__(self, message: str, *, micro_batch: int, grad_accum: int) -> None:
        super().__init__(message)
        self.micro_batch = micro_batch
        self.grad_accum = grad_accum


class _MainOnly:
    """Forwards reporter calls on the main process only."""

    def __init__(self, reporter: Reporter, is_main: bool) -> None:
        self._reporter, self._is_main = reporter, is_main

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._reporter, name)
        return attr if self._is_main else (lambda *a, **k: None)


def _check_config(config: ExperimentConfig) -> None:
    t = config.train
    if not t.learning_rate > 0:
        raise ConfigError(f"train.learning_rate must be greater than 0, got {t.learning_rate}")
    if t.max_steps is None and t.epochs is None:
        raise ConfigError("set train.max_steps or train.epochs")


def run_training(
    config: ExperimentConfig,
    *,
    data_path: Path,
    run_dir: Path,
    reporter: Reporter,
    commands: Commands,
    resume_from: Path | None = None,
) -> TrainOutcome:
    """Train `config` on `data_path`, writing checkpoints, samples and the final artifact in `run_dir`.

    Raises:
        BadInput / ConfigError: invalid data, model or settings (before any training step).
        OutOfMemory: the GPU ran out of memory during a step.
    """
    import logging

    import torch
    from accelerate.utils import set_seed

    # peft imports bitsandbytes when present; on a CPU its optional fast-kernel probe logs a warning
    # into every run's log although nothing is wrong (the plain CPU 4-bit path is used).
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    _check_config(config)
    run_dir = Path(run_dir)
    t = config.train
    spec = get_recipe(config.recipe)
    watch = spec.metric(t.early_stopping_metric)  # an unknown metric fails here, before any work
    # Start-up phases: a stop requested meanwhile raises StopRequested between them, or at once
    # inside the long ones that write nothing half-way (reading the data, loading the model).
    with commands.start_up("preparing the data", interruptible=True):
        recipe: Recipe = spec.load()(config)
        recipe.prepare(Path(data_path))
    resume_from = Path(resume_from) if resume_from is not None else None
    resume_state = checkpoints.read_state(resume_from) if resume_from is not None else None

    with commands.start_up("starting the processes"):  # a distributed run's rendezvous: not interrupted
        accelerator, precision, plan = accel.make_accelerator(config, getattr(recipe, "model_dir", None))
    is_main, world, rank = accelerator.is_main_process, accelerator.num_processes, accelerator.process_index
    report = _MainOnly(reporter, is_main)
    if resume_state is not None:
        config = sharding.keep_global_batch(config, resume_state, world, report.on_log)
        t = config.train
    set_seed(t.seed)
    with commands.start_up("loading the model", interruptible=True):
        model = oom.call(t, "model loading", recipe.build_model, accelerator.device, precision)
    commands.check_stop()
    if plan.fsdp:
        sharding.check_all_trainable(model)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names, params = [n for n, _ in named], [p for _, p in named]
    diskspace.check_before_run(run_dir, params)
    optimizer = steps.make_optimizer(params, t.learning_rate, t.weight_decay, accelerator.device.type)
    order = steps.DataOrder(len(recipe.train_data), t.batch_size, world, rank, t.seed)
    total = t.max_steps or max(1, math.ceil((t.epochs or 1.0) * order.per_epoch / t.grad_accum))
    warmup = t.warmup_steps or int(t.warmup_ratio * total)
    # A run extended by N steps follows its extension plan (lr_plan), so the LR stays continuous.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_plan.schedule_for(run_dir, t.lr_scheduler, warmup, total))
    compiling = CompileState(on_event=lambda message: _event(report, message))
    # Under FSDP a compile would have to follow the sharding, layer by layer; it stays off.
    model = compiling.compile(model, False if plan.fsdp else t.compile, accelerator.device.type)
    model, optimizer = accelerator.prepare(model, optimizer)
    if plan.fsdp:  # fully_shard replaced the parameters with sharded ones; clipping needs those
        params = [p for p in model.parameters() if p.requires_grad]

    step, best, evals_without_gain, last_metric = 0, None, 0, None
    if resume_from is not None and resume_state is not None:
        sharding.restore_checkpoint(resume_from, accelerator.unwrap_model(model, keep_torch_compile=False), optimizer, scheduler, names,
                 sharded=plan.fsdp, is_main=is_main)
        step, best = int(resume_state["step"]), resume_state.get("best_metric")
        if not checkpoints.restore_scaler(Path(resume_from), accelerator):
            _event(report, checkpoints.missing_scaler_note(step, accelerator.device.type))
        last_metric = resume_state.get("metric")
        evals_without_gain = int(resume_state.get("evals_without_gain", 0))
    n_trainable = sum(p.numel() for p in params)
    report.on_log(f"training {len(recipe.train_data)} rows ({len(recipe.val_data)} validation) on "
                  f"{accelerator.device} x{world}, {precision}, {n_trainable:,} trainable parameters, "
                  f"steps {step + 1}..{total}")
    if any(type(m).__name__ == "Linear4bit" for m in model.modules()):
        report.on_log("base model weights are quantized to 4-bit NF4 (QLoRA)")
    if world > 1 or t.sharding == "fsdp":
        report.on_log(plan.reason)
    for note in recipe.log_notes():
        report.on_log(note)
    efficiency = getattr(recipe, "packing_efficiency", None)  # token recipes: logged once, at the first step
    if compiling.active:
        report.on_log(f"torch.compile on ({os.environ.get('SPARK_TRAINER_COMPILE_BACKEND', 'inductor')}); "
                      "the first steps include the compile warm-up")
    commands.started()  # a stop requested until here ends the run without a step (nothing new to save)
    report.on_start(start_step=step, total_steps=total)
    model.train()
    state = _Loop(config, spec, recipe, accelerator, model, optimizer, scheduler, report, run_dir, order, watch,
                  sharded=plan.fsdp, precision=precision)
    last_ckpt: Path | None = None
    diverged = DivergenceWatch(precision)  # before any checkpoint holds NaN weights
    status, step_times = "completed", list[float]()
    pin = accelerator.device.type == "cuda"
    feed = batches.train_batches(recipe, order, t.seed, step * t.grad_accum, total * t.grad_accum, pin=pin)
    try:
        while step < total:
            began = time.perf_counter()
            micro_batches = [next(feed) for _ in range(t.grad_accum)]
            stats = compiling.run(
                _guarded_step, t, model=model, optimizer=optimizer, scheduler=scheduler, accelerator=accelerator,
                loss_fn=recipe.loss, loss_count=recipe.loss_count, micro_batches=micro_batches,
                work=sum(recipe.work_in(b) for b in micro_batches), params=params, max_grad_norm=t.max_grad_norm,
                reset=lambda: optimizer.zero_grad(set_to_none=True))
            step += 1
            elapsed = time.perf_counter() - began
            step_times = (step_times + [elapsed])[-20:]
            values = {"loss": stats.loss, "lr": scheduler.get_last_lr()[0], f"{recipe.unit}_per_s": stats.work / elapsed,
                      "samples_per_s": t.batch_size * t.grad_accum * world / elapsed,
                      "epoch": order.epoch_of(step * t.grad_accum), recipe.unit: stats.work}
            if efficiency is not None and len(step_times) == 1:
                values["packing_efficiency"] = efficiency
            warm = compiling.warmup_seconds(elapsed)
            if warm is not None:
                values["compile_warmup_s"] = warm
                report.on_log(f"compile warm-up {warm:.1f} s (first step {compiling.step_seconds[0]:.1f} s, "
                              f"then {min(compiling.step_seconds[1:]):.2f} s per step)")
            if stats.grad_norm is not None and math.isfinite(stats.grad_norm):
                values["grad_norm"] = stats.grad_norm
            if accelerator.device.type == "cuda":
                values["gpu_mem_gb"] = torch.cuda.max_memory_allocated() / 2**30
            report.on_metrics(step, values)
            report.on_progress(step, total, (total - step) * sum(step_times) / len(step_times))
            diverged.check(step, stats.loss, stats.grad_norm, values["lr"], lambda: _latest_name(run_dir))
            ev = config.eval
            if ev.every_steps and step % ev.every_steps == 0 and step < total and recipe.val_data:
                last_metric, best, evals_without_gain = compiling.run(
                    state.evaluate, step, best, evals_without_gain)
            if (ev.samples_every_steps and step % ev.samples_every_steps == 0) or commands.take_sample():
                state.samples(step)
            stop = state.agreed_stop(commands)
            ck = config.checkpoint
            if stop or commands.take_save() or (ck.every_steps and step % ck.every_steps == 0 and step < total):
                last_ckpt = state.save(step, last_metric, best, evals_without_gain)
            if stop:
                status = "stopped"
                report.on_log(f"stopped at step {step} ({stop}); checkpoint {last_ckpt}")
                break
            patience = t.early_stopping_patience
            if patience and evals_without_gain >= patience:
                report.on_log(f"early stopping at step {step}: {watch.key} did not improve "
                              f"in {patience} evaluations")
                break
        final_path = None
        if status == "completed":
            if recipe.val_data and state.last_eval_step != step:
                last_metric, best, evals_without_gain = compiling.run(
                    state.evaluate, step, best, evals_without_gain)
            last_ckpt = state.save(step, last_metric, best, evals_without_gain)
            final_path = state.save_final()
    finally:
        del feed  # shuts DataLoader workers down
        report.flush()
    if accelerator.device.type == "cuda" and world > 1:  # every rank: how the memory split (FSDP or not)
        print(f"rank {rank}: peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB allocated, "
              f"{torch.cuda.max_memory_reserved() / 2**30:.2f} GiB reserved", file=sys.stderr, flush=True)
    return TrainOutcome(status=status, step=step, total_steps=total, last_checkpoint=last_ckpt,
                        final_path=final_path, best_metric=best, metrics=dict(state.last_eval))


def _latest_name(run_dir: Path) -> str | None:
    latest = checkpoints.latest_checkpoint(run_dir)
    return None if latest is None else latest.name


def _event(report: Any, message: str) -> None:
    """A run event (a row the run's history shows) and a log line; reporters without events log it."""
    on_event = getattr(report, "on_event", None)
    (on_event or report.on_log)(message)


def _guarded_step(t: Any, **step_args: Any) -> steps.StepStats:
    import torch

    try:
        stats = steps.train_step(**step_args)
        assert stats is not None  # sync=True: the step's numbers are read back
        return stats
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise OutOfMemory(
            f"the GPU ran out of memory with train.batch_size {t.batch_size} (grad_accum {t.grad_accum}); halve train.batch_size and double train.grad_accum, or set "
            "train.gradient_checkpointing: true or train.auto_batch: true",
            micro_batch=t.batch_size, grad_accum=t.grad_accum) from None


class _Loop:
    """Evaluation, samples, checkpoints and commands: the loop's side work, kept out of its body."""

    def __init__(self, config: ExperimentConfig, spec: RecipeSpec, recipe: Recipe, accelerator: Any, model: Any,
                 optimizer: Any, scheduler: Any, report: Any, run_dir: Path, order: steps.DataOrder,
                 watch: MetricSpec, *, sharded: bool = False, precision: str = "fp32") -> None:
        self.config, self.spec, self.recipe, self.acc, self.model = config, spec, recipe, accelerator, model
        # FSDP: every forward gathers weights from all processes, so every process runs the same forwards
        # (evaluation, samples), and checkpoints gather the full state first.
        self.sharded, self.precision = sharded, precision
        self.sample_ooms, self.samples_off = 0, False  # sampling out of memory: skipped, then turned off
        self.optimizer, self.scheduler, self.report, self.run_dir, self.order = optimizer, scheduler, report, run_dir, order
        self.watch = watch  # the metric that decides the best checkpoint and early stopping
        self.last_eval: dict[str, float] = {}
        self.last_eval_step: int | None = None

    def _eval_totals(self) -> dict[str, Any]:
        """The recipe's `eval_step` tensors summed over this process's batches, then over processes."""
        import torch

        t, acc, recipe = self.config.train, self.acc, self.recipe
        indices = list(range(acc.process_index, len(recipe.val_data), acc.num_processes))
        if self.config.eval.max_batches:
            indices = indices[: self.config.eval.max_batches * t.batch_size]
        # Every process must reduce the same keys and shapes: one with no validation rows of its
        # own evaluates row 0 and counts it zero times.
        weight = 1.0 if indices else 0.0
        indices = indices or [0]
        totals: dict[str, Any] = {}
        # Without the DDP wrapper: its forward may talk to the other processes, whose shares of the
        # validation rows can differ in size.
        model = acc.unwrap_model(self.model, keep_torch_compile=True)
        model.eval()
        pin = acc.device.type == "cuda"
        feeds = [(batches.eval_batches(recipe, indices, t.batch_size, pin=pin), weight)]
        if self.sharded:  # pad with zero-weight batches to the most batches any process has
            most = math.ceil(math.ceil(len(recipe.val_data) / acc.num_processes) / t.batch_size)
            if self.config.eval.max_batches:
                most = min(most, self.config.eval.max_batches)
            extra = most - math.ceil(len(indices) / t.batch_size)
            feeds.append((batches.eval_batches(recipe, [0] * extra, 1, pin=pin), 0.0))
        with torch.no_grad():
            for feed, scale in feeds:
                for cpu_batch in feed:
                    batch = {k: v.to(acc.device) if hasattr(v, "to") else v for k, v in cpu_batch.items()}
                    for key, value in recipe.eval_step(model, batch).items():
                        value = torch.as_tensor(value, device=acc.device).double() * scale
                        totals[key] = totals[key] + value if key in totals else value
        model.train()
        if acc.num_processes > 1:
            totals = {k: acc.reduce(v, "sum") for k, v in sorted(totals.items())}
        return {k: v.cpu() for k, v in totals.items()}

    @oom.guarded("evaluation")
    def evaluate(self, step: int, best: float | None, without_gain: int) -> tuple[float | None, float | None, int]:
        result = self.recipe.eval_metrics(self._eval_totals())
        metrics = result.metrics
        self.last_eval, self.last_eval_step = metrics, step
        self.report.on_metrics(step, metrics)
        if self.acc.is_main_process:
            self._write_eval_report(step, result)
        self.report.flush()
        value = metrics.get(self.watch.key)
        if value is not None and (best is None or (value > best if self.watch.higher_is_better else value < best)):
            return value, value, 0
        return value, best, without_gain + 1

    def _write_eval_report(self, step: int, result: EvalResult) -> None:
        if result.report is None and not result.images:
            return
        folder = self.run_dir / "eval"
        folder.mkdir(parents=True, exist_ok=True)
        if result.report is not None:
            path = folder / f"step-{step:08d}.json"
            path.write_text(json.dumps({"step": step, **result.report}, indent=2, ensure_ascii=False))
            self.report.on_artifact("eval_report", path, step, {"metrics": result.metrics})
        for name, image in result.images.items():
            path = folder / f"step-{step:08d}-{name}.png"
            image.save(path)
            self.report.on_artifact("eval_image", path, step, {"name": name})

    def samples(self, step: int) -> None:
        if not self.acc.is_main_process and not self.sharded:
            return
        if self.samples_off:
            return
        model = self.acc.unwrap_model(self.model, keep_torch_compile=False)
        found = oom.sampling(self, step, self.recipe.generate_samples, model)  # sharded: every process, in step
        if found is None:
            return
        if not self.acc.is_main_process:
            return
        folder = self.run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"step-{step:08d}.json"
        entries = [self._sample_entry(folder, step, i, s) for i, s in enumerate(found)]
        path.write_text(json.dumps({"step": step, "samples": entries}, indent=2, ensure_ascii=False))
        media = sorted({s.media for s in found})
        self.report.on_artifact("sample", path, step, {"count": len(found), "media": media})

    def _sample_entry(self, folder: Path, step: int, index: int, sample: Sample) -> dict[str, Any]:
        if sample.image is None:
            return {"prompt": sample.prompt, "completion": sample.text or ""}
        name = f"step-{step:08d}-{index:02d}.png"
        sample.image.save(folder / name)
        self.report.on_artifact("sample_image", folder / name, step, {"caption": sample.caption,
                                                                      "prompt": sample.prompt})
        return {"prompt": sample.prompt, "caption": sample.caption, "image": name}

    def agreed_stop(self, commands: Commands) -> str | None:
        import torch

        stop = commands.stop_requested
        if self.acc.num_processes > 1:  # every process must stop at the same step
            flag = torch.tensor([0 if stop is None else (1 if stop.value == "cancel" else 2)], device=self.acc.device)
            value = int(self.acc.reduce(flag, "max"))
            return {0: None, 1: "cancel", 2: "pause"}[value]
        return None if stop is None else stop.value

    def save(self, step: int, metric: float | None, best: float | None, without_gain: int) -> Path | None:
        import torch
        from safetensors.torch import save_file

        self.acc.wait_for_everyone()
        path, failure = None, None
        inner = self.acc.unwrap_model(self.model, keep_torch_compile=False)
        if self.sharded:  # every process takes part in gathering the full state
            trainable, optim = sharding.gather_weights(inner), sharding.gather_optimizer(inner, self.optimizer)
        if self.acc.is_main_process:
            if not self.sharded:
                trainable = {n: p.detach().cpu().contiguous() for n, p in inner.named_parameters() if p.requires_grad}
                optim = self.optimizer.state_dict()
            t = self.config.train
            files = {
                "trainable.safetensors": lambda p: save_file(trainable, str(p)),
                "optimizer.pt": lambda p: torch.save(optim, p),
                "scheduler.pt": lambda p: torch.save(self.scheduler.state_dict(), p),
                "rng.pt": lambda p: torch.save(steps.rng_state(), p),
                **checkpoints.scaler_files(self.acc),
            }
            ck = self.config.checkpoint
            state = {"micro_batches": step * self.config.train.grad_accum, "epoch": self.order.epoch_of(
                step * self.config.train.grad_accum), "metric": metric, "best_metric": best,
                "evals_without_gain": without_gain, "world_size": self.acc.num_processes,
                "global_batch": sharding.global_batch(t.batch_size, t.grad_accum, self.acc.num_processes),
                "sharding": "fsdp" if self.sharded else "none",
                "metric_key": self.watch.key, "higher_is_better": self.watch.higher_is_better}
            try:
                # Metrics up to `step` reach the store before the checkpoint exists: a kill between the
                # two then leaves extra rows (deleted on resume), never a gap in the series.
                self.report.flush()
                path = checkpoints.write_checkpoint(self.run_dir, step, files, state)
                checkpoints.prune(self.run_dir, ck.keep, ck.keep_best)  # direction read from each state.json
                self.report.on_artifact("checkpoint", path, step, {"metric": metric})
                self.report.flush()
            except DiskFull as exc:
                if self.acc.num_processes == 1:
                    raise
                failure = exc
        self._agree_on_disk_full(step, failure)
        self.acc.wait_for_everyone()
        return path

    def _agree_on_disk_full(self, step: int, failure: DiskFull | None) -> None:
        """Only the main process writes the checkpoint; when that meets a full or failing disk every
        process stops with it, rather than the others waiting at the next collective for a process
        that has gone."""
        if self.acc.num_processes == 1:
            return
        import torch

        flag = torch.tensor([0 if failure is None else 1], device=self.acc.device)
        if int(self.acc.reduce(flag, "max")):
            raise failure or DiskFull(f"the main process could not save the checkpoint at step {step} (a full or "
                                      "failing disk; its line in this log says where); every process stops")

    def save_final(self) -> Path | None:
        self.acc.wait_for_everyone()
        model = self.acc.unwrap_model(self.model, keep_torch_compile=False)
        if self.sharded:
            model = self._gathered_model(model)
        if not self.acc.is_main_process:
            return None
        final = self.run_dir / "final"
        staging = self.run_dir / ".staging-final"
        shutil.rmtree(staging, ignore_errors=True)
        self.recipe.save_final(model, staging)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        settings = getattr(self.recipe, "rc", None)  # the recipe's validated recipe_config
        self.report.on_artifact("final", final, None, {"method": getattr(settings, "method", None)})
        return final

    def _gathered_model(self, sharded_model: Any) -> Any:
        """The trained model whole, on the main process's CPU, for the recipe to save (None elsewhere):
        the recipe builds it afresh and takes the gathered weights."""
        import torch

        weights = sharding.gather_weights(sharded_model)
        if not self.acc.is_main_process:
            return None
        whole = self.recipe.build_model(torch.device("cpu"), self.precision)
        result = whole.load_state_dict(weights, strict=False, assign=True)  # buffers come with the build
        params = {n for n, _ in whole.named_parameters()}
        if result.unexpected_keys or params & set(result.missing_keys):
            raise OperationFailed(f"the gathered weights do not fit the rebuilt model (missing "
                                  f"{sorted(params & set(result.missing_keys))[:3]}, unexpected "
                                  f"{result.unexpected_keys[:3]}); the last checkpoint holds the trained weights")
        return whole
