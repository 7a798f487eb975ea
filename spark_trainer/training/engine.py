"""`run_training`: one run of a recipe, on one device or several (accelerate), with exact resume.

Read top to bottom: validate and prepare (every bad input fails here, before a step runs), build
model/optimizer/schedule, restore a checkpoint if asked, then the loop: step, report, evaluate,
sample, checkpoint, honour commands. A step's numbers are read back after the next step is queued,
unless side work needs them first (see `pending`), so a stop is honoured at the step in flight.
Only the main process reports and writes files.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import ConfigError
from spark_trainer.recipes.base import Recipe
from spark_trainer.recipes.registry import get_recipe
from spark_trainer.training import accel, batches, checkpoints, diskspace, kernels, lr_plan, oom, sharding, steps
from spark_trainer.training.compiling import CompileState, cannot_build
from spark_trainer.training.divergence import DivergenceWatch
from spark_trainer.training.eta import RecentPace
from spark_trainer.training.oom import OutOfMemory
from spark_trainer.training.reporting import Commands, Reporter, TrainOutcome
from spark_trainer.training.side_work import SideWork, event, latest_name


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
    import torch
    from accelerate.utils import set_seed

    kernels.quiet_optional_kernel_probe()
    steps.quiet_scheduler_order_warning()
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
    optimizer = steps.make_optimizer(params, t.learning_rate, t.weight_decay, accelerator.device.type,
                                     sharded=plan.fsdp)
    order = steps.DataOrder(len(recipe.train_data), t.batch_size, world, rank, t.seed)
    total = t.max_steps or max(1, math.ceil((t.epochs or 1.0) * order.per_epoch / t.grad_accum))
    warmup = t.warmup_steps or int(t.warmup_ratio * total)
    # A run extended by N steps follows its extension plan (lr_plan), so the LR stays continuous.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_plan.schedule_for(run_dir, t.lr_scheduler, warmup, total))
    compiling = CompileState(on_event=lambda message: event(report, message))
    # Under FSDP a compile would have to follow the sharding, layer by layer; it stays off.
    model = compiling.compile(model, False if plan.fsdp else t.compile, accelerator.device.type,
                              fixed_shapes=getattr(recipe, "fixed_shapes", False))
    model, optimizer = accelerator.prepare(model, optimizer)
    if plan.fsdp:  # fully_shard replaced the parameters with sharded ones; clipping needs those
        params = [p for p in model.parameters() if p.requires_grad]

    step, best, evals_without_gain, last_metric = 0, None, 0, None
    diverged = DivergenceWatch(precision, t.max_skipped_steps)  # skips non-finite steps; a spell ends the run
    if resume_from is not None and resume_state is not None:
        sharding.restore_checkpoint(resume_from, accelerator.unwrap_model(model, keep_torch_compile=False), optimizer, scheduler, names,
                 sharded=plan.fsdp, is_main=is_main)
        step, best = int(resume_state["step"]), resume_state.get("best_metric")
        if not checkpoints.restore_scaler(Path(resume_from), accelerator):
            event(report, checkpoints.missing_scaler_note(step, accelerator.device.type))
        last_metric = resume_state.get("metric")
        evals_without_gain = int(resume_state.get("evals_without_gain", 0))
        diverged.restore(resume_state)
    n_trainable = sum(p.numel() for p in params)
    rows, noun = len(recipe.train_data), "packed row" if getattr(recipe, "packing_efficiency", None) is not None else "row"
    report.on_log(f"training {rows} {noun}{'s' if rows != 1 else ''} ({len(recipe.val_data)} validation) on "
                  f"{accelerator.device} x{world}, {precision}, {n_trainable:,} trainable parameters, "
                  f"steps {step + 1}..{total}")
    if not recipe.val_data and step == 0:  # said once, at the run's start: eval settings then do nothing
        event(report, "the dataset has no validation rows, so this run is never evaluated (no eval_ metrics); "
                      "ingest it with a validation share (--val-fraction, the run file's eval.val_fraction)")
    if any(type(m).__name__ == "Linear4bit" for m in model.modules()):
        report.on_log("base model weights are quantized to 4-bit NF4 (QLoRA)")
    if world > 1 or t.sharding == "fsdp":
        report.on_log(plan.reason)
    for note in recipe.log_notes():
        report.on_log(note)
    efficiency = getattr(recipe, "packing_efficiency", None)  # token recipes: logged once, at the first step
    if compiling.active:
        scope = f"block by block: {compiling.regions} repeated blocks share their graphs" if compiling.regions else "the whole model"
        report.on_log(f"torch.compile on ({os.environ.get('SPARK_TRAINER_COMPILE_BACKEND', 'inductor')}, {scope}); "
                      "the first steps include the compile warm-up")
    elif t.compile == "auto" and accelerator.device.type == "cuda" and not plan.fsdp and (why := cannot_build()):
        report.on_log(f"torch.compile off: {why}; training runs eagerly")
    commands.started()  # a stop requested until here ends the run without a step (nothing new to save)
    report.on_start(start_step=step, total_steps=total)
    model.train()
    state = SideWork(config, spec, recipe, accelerator, model, optimizer, scheduler, report, run_dir, order, watch,
                  sharded=plan.fsdp, precision=precision, divergence=diverged)
    if resume_state is not None:
        # Its last evaluation's step: a run resumed at its last step, evaluated there already, is not
        # evaluated again (the final evaluation was logged twice).
        state.metric_step = state.last_eval_step = resume_state.get("metric_step")
    if compiling.active and recipe.val_data:
        compiling.eval_seconds = compiling.run(state.warm_up_evaluation)
    last_ckpt: Path | None = None
    status, pace = "completed", RecentPace()
    early_stop: str | None = None  # why it completed before its last step
    pin = accelerator.device.type == "cuda"
    feed = batches.train_batches(recipe, order, t.seed, step * t.grad_accum, total * t.grad_accum, pin=pin)
    # A step whose numbers are not read back yet: the next one is queued first, so the device works
    # while the host reads, reports and judges this one (steps.LaunchedStep.deferred). A step with side
    # work (evaluation, samples, a checkpoint, a stop) and the last one are settled before it.
    # SPARK_TRAINER_READ_BACK_EACH_STEP=1 reads every step back before the next (for a benchmark's baseline).
    cannot = steps.read_back_reason(optimizer, accelerator)  # once: after a resume restored the optimizer
    defer = cannot is None and os.environ.get("SPARK_TRAINER_READ_BACK_EACH_STEP", "") != "1"
    why = cannot or (None if defer else "SPARK_TRAINER_READ_BACK_EACH_STEP=1")
    report.on_log("each step is queued before the one before it is read back" if why is None
                  else f"each step is read back before the next is queued: {why}")
    pending: _Pending | None = None
    last_done, judged = 0.0, step  # when the last step settled was known done, and its number
    synchronous = accelerator.device.type == "cpu"  # its steps are done when their launch returns

    def settle(done: _Pending) -> None:
        nonlocal last_done, judged
        stats = done.launched.settle()
        # A step's time: from its launch, or from when the step before it was done if that was later (the
        # device queue). A queued device's step is known done when it is read back here; a CPU step when
        # its launch returned (timed from its read-back, a step settled right after the one before it, as
        # before side work, took ~0 s, and its tokens/s came out 300x too high).
        finished = done.launched_at if synchronous else time.perf_counter()
        elapsed = max(finished - max(done.began, last_done), 1e-9)
        last_done = finished
        at = judged = done.step
        pace.add(elapsed)
        # A skipped step's loss and norm (inf, or a finite 1e30 that would flatten the chart) are left out.
        values = {} if stats.skipped else {"loss": stats.loss}
        values |= {"lr": done.lr, f"{recipe.unit}_per_s": stats.work / elapsed,
                   "samples_per_s": t.batch_size * t.grad_accum * world / elapsed,
                   "epoch": order.epoch_of(at * t.grad_accum), recipe.unit: stats.work}
        if efficiency is not None and pace.steps == 1:
            values["packing_efficiency"] = efficiency
        warm = compiling.warmup_seconds(elapsed)
        if warm is not None:
            values["compile_warmup_s"] = warm
            report.on_log(f"compile warm-up {warm:.1f} s (first step {compiling.step_seconds[0]:.1f} s, "
                          f"then {min(compiling.step_seconds[1:]):.2f} s per step; evaluation's graphs "
                          f"{compiling.eval_seconds:.1f} s before the first step)")
        if stats.grad_norm is not None and not stats.skipped and math.isfinite(stats.grad_norm):  # fp16: the scaler's own skips
            values["grad_norm"] = stats.grad_norm
        verdict = diverged.judge(at, stats.loss, stats.grad_norm, values["lr"], lambda: latest_name(run_dir),
                                 skipped=stats.skipped, bad_buffers=stats.bad_buffers)
        if verdict.skipped_steps is not None:
            values["skipped_steps"] = verdict.skipped_steps
        if accelerator.device.type == "cuda":
            values["gpu_mem_gb"] = torch.cuda.max_memory_allocated() / 2**30
        report.on_metrics(at, values)
        report.on_progress(at, total, pace.eta(total - at))
        if verdict.diverged is not None:  # after its metrics: the charts show the step that ended the run
            raise verdict.diverged
        if verdict.note is not None and verdict.route == "event":
            event(report, verdict.note)
        elif verdict.note is not None and verdict.route == "log":
            report.on_log(verdict.note)

    # A stop asked while a step of several micro-batches runs drops that step (`launch_step`'s interrupt)
    # and saves the step before it, with the random state as it was before the dropped one, so a resume
    # trains it exactly as an uninterrupted run does. One process only; not with BatchNorm, whose running
    # statistics the dropped forwards would have moved.
    interruptible = world == 1 and t.grad_accum > 1 and not any(
        isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    try:
        while step < total:
            began = time.perf_counter()
            rng = steps.rng_state() if interruptible and step > 0 else None
            try:
                micro_batches = [next(feed) for _ in range(t.grad_accum)]
                lr = scheduler.get_last_lr()[0]  # the rate this step uses: after it the scheduler holds the next
                launched = compiling.run(
                    _guarded_step, t, model=model, optimizer=optimizer, scheduler=scheduler, accelerator=accelerator,
                    loss_fn=recipe.loss, loss_count=recipe.loss_count, micro_batches=micro_batches,
                    work=sum(recipe.work_in(b) for b in micro_batches), params=params, max_grad_norm=t.max_grad_norm,
                    watched_buffers=state.watched_buffers, interrupt=commands.stop_pending if rng is not None else None,
                    skip_on_device=cannot is None,
                    reset=lambda: optimizer.zero_grad(set_to_none=True))
            except BaseException:
                if pending is not None:  # the step before the one that failed still has its metrics
                    with contextlib.suppress(Exception):
                        settle(pending)
                raise
            if launched is None:  # a stop came between its micro-batches: dropped, the step before is saved
                assert rng is not None  # only an interruptible step is dropped
                steps.set_rng_state(rng)
                if pending is not None:
                    settle(pending)
                    pending = None
                stop = state.agreed_stop(commands)
                last_ckpt = state.save(step, last_metric, best, evals_without_gain)
                status = "stopped"
                report.on_log(f"stopped at step {step} ({stop}); step {step + 1} was dropped between its "
                              f"micro-batches and a resume trains it again; checkpoint {last_ckpt}")
                break
            launched_at = time.perf_counter()
            step += 1
            if pending is not None:
                settle(pending)
            pending = _Pending(step, launched, lr, began, launched_at)
            ev, ck = config.eval, config.checkpoint
            evaluate = bool(ev.every_steps and step % ev.every_steps == 0 and step < total and recipe.val_data)
            sample = bool(ev.samples_every_steps and step % ev.samples_every_steps == 0) or commands.take_sample()
            stop = state.agreed_stop(commands)
            save = bool(stop or commands.take_save() or (ck.every_steps and step % ck.every_steps == 0 and step < total))
            if defer and not (evaluate or sample or save or step == total):
                continue
            settle(pending)
            pending = None
            if evaluate:
                last_metric, best, evals_without_gain = compiling.run(
                    state.evaluate, step, best, evals_without_gain)
            if sample:
                state.samples(step)
            if save:
                last_ckpt = state.save(step, last_metric, best, evals_without_gain)
            if stop:
                status = "stopped"
                report.on_log(f"stopped at step {step} ({stop}); checkpoint {last_ckpt}")
                break
            patience = t.early_stopping_patience
            if patience and evals_without_gain >= patience:
                early_stop = f"{watch.key} did not improve in {patience} evaluations"
                report.on_log(f"early stopping at step {step}: {early_stop}")
                break
        final_path = None
        if status == "completed":
            evaluated = bool(recipe.val_data) and state.last_eval_step != step
            if evaluated:
                last_metric, best, evals_without_gain = compiling.run(
                    state.evaluate, step, best, evals_without_gain)
            if resume_from is not None and resume_state is not None and int(resume_state["step"]) == step and not evaluated:
                last_ckpt = resume_from  # resumed at its last step, nothing new since: saved (and recorded) once
            else:
                last_ckpt = state.save(step, last_metric, best, evals_without_gain)
            final_path = state.save_final()
    finally:
        del feed  # shuts DataLoader workers down
        skipped_summary = diverged.summary(judged)  # whatever the end: completed, stopped or failed
        if skipped_summary:
            with contextlib.suppress(Exception):  # never in place of the error that ended the run
                event(report, skipped_summary)
        report.flush()
    if accelerator.device.type == "cuda" and world > 1:  # every rank: how the memory split (FSDP or not)
        print(f"rank {rank}: peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB allocated, "
              f"{torch.cuda.max_memory_reserved() / 2**30:.2f} GiB reserved", file=sys.stderr, flush=True)
    return TrainOutcome(status=status, step=step, total_steps=total, last_checkpoint=last_ckpt,
                        final_path=final_path, best_metric=best, metrics=dict(state.last_eval), early_stop=early_stop)


@dataclass
class _Pending:
    """A launched step not yet settled: its number, what it launched, its rate, when it began and when
    its launch returned."""

    step: int
    launched: steps.LaunchedStep
    lr: float
    began: float
    launched_at: float


def _guarded_step(t: Any, **step_args: Any) -> steps.LaunchedStep | None:
    import torch

    try:
        return steps.launch_step(**step_args)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise OutOfMemory(
            f"the GPU ran out of memory with train.batch_size {t.batch_size} (grad_accum {t.grad_accum}); halve train.batch_size and double train.grad_accum, or set "
            "train.gradient_checkpointing: true or train.auto_batch: true",
            micro_batch=t.batch_size, grad_accum=t.grad_accum) from None
