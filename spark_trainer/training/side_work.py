"""The training loop's side work: evaluation (and the best-checkpoint/early-stopping bookkeeping),
samples, checkpoints, the agreed stop of every process, and the final save. `engine.run_training`
keeps the loop's body; this keeps what it does between steps."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.disk import finish_staging, fsync_dir, is_full, write_whole
from spark_trainer.errors import DiskFull, OperationFailed
from spark_trainer.recipes.base import EvalResult, MetricSpec, Recipe, Sample
from spark_trainer.recipes.registry import RecipeSpec
from spark_trainer.training import batches, checkpoints, diskspace, oom, sharding, steps
from spark_trainer.training.divergence import Diverged, DivergenceWatch, final_not_finite, poisoned_weights
from spark_trainer.training.reporting import Commands


def latest_name(run_dir: Path) -> str | None:
    latest = checkpoints.latest_checkpoint(run_dir)
    return None if latest is None else latest.name


def final_write_failure(exc: BaseException, staging: Path, run_dir: Path) -> DiskFull:
    """The one line for a save of final/ that failed on a full or failing disk: where, what is free,
    and the last complete checkpoint (which still holds every trained step; a resume finishes the run)."""
    keeps = f"the final model was not saved; {checkpoints.kept_line(latest_name(run_dir))}"
    failed = getattr(exc, "filename", None)  # its folder is gone: name the run's folder for a full disk
    target = Path(failed) if failed and not is_full(exc) else staging
    return diskspace.write_failure(exc, target, 0, keeps, what="the final model")


def event(report: Any, message: str) -> None:
    """A run event (a row the run's history shows) and a log line; reporters without events log it."""
    on_event = getattr(report, "on_event", None)
    (on_event or report.on_log)(message)



def _non_finite(weights: dict[str, Any]) -> list[str]:
    """The names of the floating-point tensors in `weights` holding a NaN or an infinity.

    One norm per tensor (torch.linalg.vector_norm, in every torch this supports), and the exact
    isfinite pass only over a tensor whose own norm is not finite (a NaN/inf, or a norm that overflowed):
    a poisoned 7B checkpoint costs the norms plus one tensor's pass, not a pass over every weight while
    the other processes wait. A dtype that cannot be normed here (float8 on the CPU) is read through
    float32 instead, and one that cannot be read at all is left unchecked: this runs on the main process
    only, and an exception here would leave the others waiting at the next collective."""
    import torch

    found = []
    for name, w in weights.items():
        if not w.is_floating_point():
            continue
        try:
            if bool(torch.isfinite(torch.linalg.vector_norm(w))):
                continue
            finite = bool(torch.isfinite(w).all())
        except (NotImplementedError, RuntimeError, TypeError):
            try:
                finite = bool(torch.isfinite(w.float()).all())
            except (NotImplementedError, RuntimeError, TypeError):
                continue
        if not finite:
            found.append(name)
    return found


def cpu_group() -> Any:
    """A gloo (CPU) process group of every process, for small host values no GPU work need wait for.
    Collective: every process makes it, at the same point of its run."""
    import torch.distributed as dist

    return dist.new_group(backend="gloo")


class SideWork:
    """Evaluation, samples, checkpoints and commands: the loop's side work, kept out of its body."""

    def __init__(self, config: ExperimentConfig, spec: RecipeSpec, recipe: Recipe, accelerator: Any, model: Any,
                 optimizer: Any, scheduler: Any, report: Any, run_dir: Path, order: steps.DataOrder,
                 watch: MetricSpec, *, sharded: bool = False, precision: str = "fp32",
                 divergence: DivergenceWatch | None = None) -> None:
        self.config, self.spec, self.recipe, self.acc, self.model = config, spec, recipe, accelerator, model
        # FSDP: every forward gathers weights from all processes, so every process runs the same forwards
        # (evaluation, samples), and checkpoints gather the full state first.
        self.sharded, self.precision = sharded, precision
        self.sample_ooms, self.samples_off = 0, False  # sampling out of memory: skipped, then turned off
        self.optimizer, self.scheduler, self.report, self.run_dir, self.order = optimizer, scheduler, report, run_dir, order
        self.watch = watch  # the metric that decides the best checkpoint and early stopping
        self.divergence = divergence  # its skipped-step counts go into each checkpoint
        self.last_eval: dict[str, float] = {}
        self.last_eval_step: int | None = None
        # The step the watched metric a checkpoint records was measured at (checkpoints and evaluations
        # need not fall on the same steps); the engine sets it from the checkpoint a run resumes from.
        self.metric_step: int | None = None
        # The floating buffers finite at the start (BatchNorm's statistics...): a skipped step and the
        # final save must find them still finite (a mask buffer holding -inf on purpose is not watched).
        self.watched_buffers = steps.finite_buffers(accelerator.unwrap_model(model, keep_torch_compile=False))
        self.stop_group = cpu_group() if accelerator.num_processes > 1 else None  # see agreed_stop

    def _eval_indices(self) -> list[int]:
        """This process's share of the validation rows, capped by `eval.max_batches`."""
        t, acc = self.config.train, self.acc
        indices = list(range(acc.process_index, len(self.recipe.val_data), acc.num_processes))
        if self.config.eval.max_batches:
            indices = indices[: self.config.eval.max_batches * t.batch_size]
        return indices

    def _on_device(self, cpu_batch: dict[str, Any]) -> dict[str, Any]:
        # Not blocking: a blocking copy waited for the GPU to finish the previous batch before this one's
        # forward pass could be queued, so the GPU idled while the host launched it, batch after batch.
        return steps.on_device(cpu_batch, self.acc.device)

    @oom.guarded("evaluation")
    def warm_up_evaluation(self) -> float:
        """A compiled model: compile the evaluation's graphs now, before the first step, and return the
        seconds it took. Evaluation runs the compiled model without gradients in eval mode, and its last
        batch is usually smaller: each is a graph of its own, and compiling them at the first evaluation
        (a 1B model: tens of seconds on a GPU) stalled the run there, inside what the benchmark times.
        The first batch and the last (smaller) one are run and their results dropped; nothing here
        draws random numbers, so exact resume is unchanged."""
        import torch

        began = time.perf_counter()
        indices, size = self._eval_indices(), self.config.train.batch_size
        if not indices:
            return 0.0
        shapes = [indices[:size]] + ([indices[-(len(indices) % size):]] if len(indices) % size else [])
        model = self.acc.unwrap_model(self.model, keep_torch_compile=True)
        model.eval()
        cuda = self.acc.device.type == "cuda"
        try:  # fork_rng: should a recipe's eval_step ever draw, the run's random state stays as it was
            with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []), torch.no_grad():
                for chunk in shapes:
                    for cpu_batch in batches.eval_batches(self.recipe, chunk, size, pin=cuda):
                        self.recipe.eval_step(model, self._on_device(cpu_batch))
        finally:
            model.train()
        return time.perf_counter() - began

    def _eval_totals(self) -> dict[str, Any]:
        """The recipe's `eval_step` tensors summed over this process's batches, then over processes."""
        import torch

        t, acc, recipe = self.config.train, self.acc, self.recipe
        indices = self._eval_indices()
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
                    for key, value in recipe.eval_step(model, self._on_device(cpu_batch)).items():
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
        self.last_eval, self.last_eval_step, self.metric_step = metrics, step, step
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
        if result.report is not None:
            path = folder / f"step-{step:08d}.json"
            text = json.dumps({"step": step, **result.report}, indent=2, ensure_ascii=False)
            write_whole(path, lambda aside: aside.write_text(text), f"evaluation report {path.name} was not written")
            self.report.on_artifact("eval_report", path, step, {"metrics": result.metrics})
        for name, image in result.images.items():
            path = folder / f"step-{step:08d}-{name}.png"
            write_whole(path, image.save, f"evaluation image {path.name} was not written")
            self.report.on_artifact("eval_image", path, step, {"name": name})

    def samples(self, step: int) -> None:
        if not self.acc.is_main_process and not self.sharded:
            return
        if self.samples_off:
            return
        import torch

        model = self.acc.unwrap_model(self.model, keep_torch_compile=False)
        # Eagerly: blocks compiled in place (compiling.repeated_blocks) stay compiled in the unwrapped model,
        # and generation's growing lengths and cache would recompile them at every new length.
        with torch.compiler.set_stance("force_eager"):
            found = oom.sampling(self, step, self.recipe.generate_samples, model)  # sharded: every process, in step
        if found is None:
            return
        if not self.acc.is_main_process:
            return
        folder = self.run_dir / "samples"
        path = folder / f"step-{step:08d}.json"
        entries = [self._sample_entry(folder, step, i, s) for i, s in enumerate(found)]
        text = json.dumps({"step": step, "samples": entries}, indent=2, ensure_ascii=False)
        write_whole(path, lambda aside: aside.write_text(text), f"sample {path.name} was not written")
        media = sorted({s.media for s in found})
        self.report.on_artifact("sample", path, step, {"count": len(found), "media": media})

    def _sample_entry(self, folder: Path, step: int, index: int, sample: Sample) -> dict[str, Any]:
        if sample.image is None:
            return {"prompt": sample.prompt, "completion": sample.text or ""}
        name = f"step-{step:08d}-{index:02d}.png"
        write_whole(folder / name, sample.image.save, f"sample image {name} was not written")
        self.report.on_artifact("sample_image", folder / name, step, {"caption": sample.caption,
                                                                      "prompt": sample.prompt})
        return {"prompt": sample.prompt, "caption": sample.caption, "image": name}

    def agreed_stop(self, commands: Commands) -> str | None:
        """The stop this step ends the run with, the same on every process (each asks once a step).

        The flag goes over a CPU group (`stop_group`): reduced on the GPUs' group it was a GPU tensor,
        and reading it back made every process wait each step until its GPU had run every step queued,
        so a multi-GPU run gained nothing from queuing a step before the last one is read back."""
        stop = commands.stop_requested
        if self.stop_group is None:
            return None if stop is None else stop.value
        import torch
        import torch.distributed as dist

        flag = torch.tensor([0 if stop is None else (1 if stop.value == "cancel" else 2)], dtype=torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.stop_group)
        return {0: None, 1: "cancel", 2: "pause"}[int(flag)]

    def save(self, step: int, metric: float | None, best: float | None, without_gain: int) -> Path | None:
        self.acc.wait_for_everyone()
        path: Path | None = None
        failure: DiskFull | Diverged | None = None
        inner = self.acc.unwrap_model(self.model, keep_torch_compile=False)
        if self.sharded:  # every process takes part in gathering the full state
            trainable, optim = sharding.gather_weights(inner), sharding.gather_optimizer(inner, self.optimizer)
        if self.acc.is_main_process:
            if not self.sharded:
                trainable = {n: p.detach().cpu().contiguous() for n, p in inner.named_parameters() if p.requires_grad}
                optim = self.optimizer.state_dict()
            # Never NaN weights in a checkpoint: it would rotate a good one out, and a resume would train nothing.
            poisoned = _non_finite(trainable)
            if poisoned:
                failure = poisoned_weights(step, poisoned, latest_name(self.run_dir))
            else:
                try:
                    path = self._write(step, trainable, optim, metric, best, without_gain)
                except DiskFull as exc:
                    failure = exc
            if failure is not None and self.acc.num_processes == 1:
                raise failure
        self._agree_on_failure(step, failure)
        self.acc.wait_for_everyone()
        return path

    def _write(self, step: int, trainable: dict[str, Any], optim: dict[str, Any], metric: float | None,
               best: float | None, without_gain: int) -> Path:
        import torch
        from safetensors.torch import save_file

        t, ck = self.config.train, self.config.checkpoint
        files = {
            "trainable.safetensors": lambda p: save_file(trainable, str(p)),
            "optimizer.pt": lambda p: torch.save(optim, p),
            "scheduler.pt": lambda p: torch.save(self.scheduler.state_dict(), p),
            "rng.pt": lambda p: torch.save(steps.rng_state(), p),
            **checkpoints.scaler_files(self.acc),
        }
        state = {"micro_batches": step * t.grad_accum, "epoch": self.order.epoch_of(step * t.grad_accum),
                 "metric": metric, "metric_step": self.metric_step if metric is not None else None,
                 "best_metric": best, "evals_without_gain": without_gain,
                 "world_size": self.acc.num_processes,
                 "global_batch": sharding.global_batch(t.batch_size, t.grad_accum, self.acc.num_processes),
                 "sharding": "fsdp" if self.sharded else "none",
                 "metric_key": self.watch.key, "higher_is_better": self.watch.higher_is_better,
                 **(self.divergence.state() if self.divergence is not None else {})}
        # Metrics up to `step` reach the store before the checkpoint exists: a kill between the
        # two then leaves extra rows (deleted on resume), never a gap in the series.
        self.report.flush()
        path = checkpoints.write_checkpoint(self.run_dir, step, files, state)
        checkpoints.prune(self.run_dir, ck.keep, ck.keep_best)  # direction read from each state.json
        self.report.on_artifact("checkpoint", path, step, {"metric": metric})
        self.report.flush()
        return path

    def _agree_on_failure(self, step: int, failure: DiskFull | Diverged | None) -> None:
        """Only the main process writes the checkpoint; when that meets a full or failing disk, or
        weights that are not finite, every process stops with it, rather than the others waiting at
        the next collective for a process that has gone."""
        if self.acc.num_processes == 1:
            return
        import torch

        code = 0 if failure is None else 1 if isinstance(failure, DiskFull) else 2
        found = int(self.acc.reduce(torch.tensor([code], device=self.acc.device), "max"))
        if found == 1:
            raise failure or DiskFull(f"the main process could not save the checkpoint at step {step} (a full or "
                                      "failing disk; its line in this log says where); every process stops")
        if found == 2:
            raise failure or Diverged(f"the main process found the weights not finite at step {step} (its line in "
                                      "this log says which); no checkpoint was written and every process stops")

    def save_final(self) -> Path | None:
        self.acc.wait_for_everyone()
        model = self.acc.unwrap_model(self.model, keep_torch_compile=False)
        if self.sharded:
            model = self._gathered_model(model)
        if not self.acc.is_main_process:
            return None
        # A buffer gone bad (BatchNorm statistics) that no step's check caught: never a NaN final model.
        bad = _non_finite({n: b for n, b in model.named_buffers() if steps.plain_name(n) in self.watched_buffers})
        if bad:
            raise final_not_finite(bad, latest_name(self.run_dir))
        final = self.run_dir / "final"
        staging = self.run_dir / ".staging-final"
        try:
            shutil.rmtree(staging, ignore_errors=True)
            self.recipe.save_final(model, staging)
            finish_staging(staging)  # on the disk before the name says final (and safetensors' 0600 made 0644)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(staging, final)
            fsync_dir(self.run_dir)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, Exception) and diskspace.is_write_failure(exc):
                # A full disk (safetensors says so in its own words and type) or a failing one: the one
                # line a checkpoint's write gives, not the library's error and a traceback.
                raise final_write_failure(exc, staging, self.run_dir) from exc
            raise
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
