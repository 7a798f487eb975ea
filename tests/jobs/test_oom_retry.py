"""The out-of-memory path on the CPU: a simulated CUDA OOM inside the real training step.

The GPU-marked twins in test_gpu_jobs.py exhaust real GPU memory; these run everywhere, so the
engine's conversion (OutOfMemory naming the micro-batch) and the worker's `auto_batch` retry
(half micro-batch, double accumulation, recorded as a run event) are checked in every CI run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs import oom_retry
from spark_trainer.jobs.submit import frozen_config, submit_config
from spark_trainer.store import metrics, runs
from spark_trainer.store.store import Store
from spark_trainer.training import engine, steps
from spark_trainer.training.reporting import Commands


@pytest.fixture
def oom_above(monkeypatch: pytest.MonkeyPatch):
    """Make every training step with a micro-batch larger than `limit` raise CUDA's OOM error."""
    import torch

    real_guarded = engine._guarded_step
    seen: list[int] = []

    def install(limit: int) -> list[int]:
        def guarded(t, **step_args):
            seen.append(t.batch_size)
            if t.batch_size <= limit:
                return real_guarded(t, **step_args)

            def out_of_memory(**_: object):
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(steps, "launch_step", out_of_memory)
                return real_guarded(t, **step_args)

        monkeypatch.setattr(engine, "_guarded_step", guarded)
        return seen

    return install


def _submit(store: Store, run_file, **train) -> tuple[int, Path]:
    path = run_file(steps=6, ckpt_every=3, **train)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    return run.id, Path(run.run_dir)


def test_auto_batch_halves_the_micro_batch_until_it_fits(store: Store, run_file, oom_above) -> None:
    run_id, run_dir = _submit(store, run_file, batch_size=8, grad_accum=1, auto_batch=True)
    seen = oom_above(2)
    outcome = oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    assert outcome.status == "completed" and outcome.step == 6
    assert seen[:3] == [8, 4, 2]  # two retries, then every step at micro-batch 2
    notes = [e.reason for e in runs.events(store, run_id) if e.reason.startswith("out of memory")]
    assert notes == [
        "out of memory at micro-batch 8; retrying with micro-batch 4 and grad_accum 2 (same effective batch)",
        "out of memory at micro-batch 4; retrying with micro-batch 2 and grad_accum 4 (same effective batch)",
    ]
    final = frozen_config(run_dir).train
    assert (final.batch_size, final.grad_accum) == (2, 4)
    assert [m.step for m in metrics.read(store, run_id, keys=["loss"])] == list(range(1, 7))


def test_without_auto_batch_the_error_names_the_micro_batch(store: Store, run_file, oom_above) -> None:
    run_id, run_dir = _submit(store, run_file, batch_size=8, grad_accum=1)
    oom_above(2)
    with pytest.raises(oom_retry.OperationFailedOOM) as info:
        oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    message = str(info.value)
    assert "micro-batch 8" in message and "train.auto_batch" in message and "train.grad_accum" in message
    assert frozen_config(run_dir).train.batch_size == 8  # nothing rewritten


def _oom_in_evaluation_above(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[int]:
    """CUDA's OOM error from every evaluation batch larger than `limit` rows (training is untouched)."""
    import torch

    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    real_loss = CausalLMRecipe.loss
    seen: list[int] = []

    def loss(self, model, batch):
        if not model.training:
            seen.append(self.config.train.batch_size)
            if self.config.train.batch_size > limit:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory during evaluation (simulated)")
        return real_loss(self, model, batch)

    monkeypatch.setattr(CausalLMRecipe, "loss", loss)
    return seen


def test_oom_during_evaluation_is_retried_like_a_step_oom(store: Store, run_file, monkeypatch) -> None:
    path = run_file(steps=4, ckpt_every=2, batch_size=4, grad_accum=1, auto_batch=True)
    spec = load_config(path)
    spec.eval.every_steps = 2
    run = submit_config(store, spec, base_dir=path.parent).run
    run_id, run_dir = run.id, Path(run.run_dir)
    seen = _oom_in_evaluation_above(monkeypatch, 2)
    outcome = oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    assert outcome.status == "completed" and outcome.step == 4
    assert seen[0] == 4 and set(seen[1:]) == {2}
    notes = [e.reason for e in runs.events(store, run_id) if e.reason.startswith("out of memory")]
    assert notes == ["out of memory during evaluation at micro-batch 4; retrying with micro-batch 2 and "
                     "grad_accum 2 (same effective batch)"]
    # The retry resumed from the step-2 checkpoint written before the evaluation: no gap, no duplicate.
    assert [m.step for m in metrics.read(store, run_id, keys=["loss"])] == [1, 2, 3, 4]


def test_oom_during_evaluation_without_auto_batch_says_where(store: Store, run_file, monkeypatch) -> None:
    path = run_file(steps=4, ckpt_every=2, batch_size=4, grad_accum=1)
    spec = load_config(path)
    spec.eval.every_steps = 2
    run = submit_config(store, spec, base_dir=path.parent).run
    _oom_in_evaluation_above(monkeypatch, 2)
    with pytest.raises(oom_retry.OperationFailedOOM, match="ran out of memory during evaluation with train.batch_size 4"):
        oom_retry.train(store, run.id, frozen_config(Path(run.run_dir)), Path(run.run_dir), Commands())


def test_oom_loading_the_model_is_not_retried_by_auto_batch(store: Store, run_file, monkeypatch) -> None:
    import torch

    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    def build_model(self, device, precision):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")

    monkeypatch.setattr(CausalLMRecipe, "build_model", build_model)
    run_id, run_dir = _submit(store, run_file, batch_size=8, grad_accum=1, auto_batch=True)
    with pytest.raises(oom_retry.OperationFailedOOM, match="during model loading .*use a smaller model"):
        oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    assert not [e for e in runs.events(store, run_id) if e.reason.startswith("out of memory")]
    assert frozen_config(run_dir).train.batch_size == 8  # nothing rewritten


LOAD_OOM = '''
import os
from pathlib import Path

marker = os.environ.get("SPARK_TEST_LOAD_OOM_WHILE")
if marker and Path(marker).exists():
    import torch

    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    def build_model(self, device, precision):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")

    CausalLMRecipe.build_model = build_model
    print("test: out-of-memory armed for model loading", flush=True)
'''


@pytest.mark.slow
def test_a_real_worker_out_of_memory_loading_the_model_fails_cleanly_and_resumes(
        store: Store, run_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real worker process: the OOM while loading ends the run `failed` with advice (no traceback),
    and once memory is there (the injection's marker removed) `run resume` trains every step."""
    from spark_trainer.jobs import control
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.store.entities import RunStatus
    from tests.jobs.conftest import finished, wait_until

    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(LOAD_OOM)
    marker = tmp_path / "oom-while-loading"
    marker.touch()
    monkeypatch.setenv("PYTHONPATH", f"{inject}:{Path(__file__).resolve().parents[2]}")
    monkeypatch.setenv("SPARK_TEST_LOAD_OOM_WHILE", str(marker))
    run_id, run_dir = _submit(store, run_file, auto_batch=True)
    schedule_once(store)
    done = wait_until(store, run_id, finished, timeout_s=180)
    log = (run_dir / "worker.log").read_text()
    assert "armed for model loading" in log
    assert done.status == RunStatus.FAILED, log[-3000:]
    assert "ran out of memory during model loading" in (done.error or "") and "smaller model" in (done.error or "")
    assert "Traceback" not in log
    assert runs.events(store, run_id)[-1].reason == "out of memory"
    assert not list(run_dir.glob("checkpoint-*")) and metrics.read(store, run_id, keys=["loss"]) == []

    marker.unlink()
    control.resume(store, run_id)
    schedule_once(store)
    done = wait_until(store, run_id, finished, timeout_s=240)
    assert done.status == RunStatus.COMPLETED, (run_dir / "worker.log").read_text()[-3000:]
    assert [m.step for m in metrics.read(store, run_id, keys=["loss"])] == list(range(1, 7))


@pytest.fixture
def oom_in_the_model(monkeypatch: pytest.MonkeyPatch):
    """CUDA's OOM error raised from inside the real model's forward (a global module hook on its token
    embedding, no engine code replaced): the `at`-th training micro-batch, when it has more than `limit` rows."""
    import torch

    handles = []

    def install(at: int, limit: int) -> list[int]:
        seen: list[int] = []

        def hook(module, args, _output):
            if not isinstance(module, torch.nn.Embedding) or not (module.training and torch.is_grad_enabled()):
                return
            seen.append(args[0].shape[0])
            if len(seen) == at and args[0].shape[0] > limit:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (raised in forward)")

        handles.append(torch.nn.modules.module.register_module_forward_hook(hook))
        return seen

    yield install
    for handle in handles:
        handle.remove()


def test_an_oom_in_the_forward_mid_accumulation_resumes_the_same_training(store: Store, run_file,
                                                                          oom_in_the_model) -> None:
    # Step 4's second micro-batch runs out of memory after the first one's gradients were accumulated:
    # the retry (micro-batch 2, grad_accum 4) resumes from the step-3 checkpoint and trains the same rows
    # to the same losses as a run that never ran out (nothing of the failed step or attempt leaks).
    def submit(name: str, **train) -> tuple[int, Path]:
        spec = load_config(run_file(name, steps=6, ckpt_every=3, batch_size=4, grad_accum=2, **train))
        spec.recipe_config["lora_dropout"] = 0.0  # the same rows in other micro-batch shapes: same numbers
        run = submit_config(store, spec, base_dir=Path(spec.dataset).parent).run
        return run.id, Path(run.run_dir)

    straight_id, straight_dir = submit("straight")
    assert oom_retry.train(store, straight_id, frozen_config(straight_dir), straight_dir, Commands()).status == "completed"
    run_id, run_dir = submit("oom", auto_batch=True)
    seen = oom_in_the_model(at=8, limit=2)
    outcome = oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    assert outcome.status == "completed" and outcome.step == 6
    assert seen[:8] == [4] * 8 and set(seen[8:]) == {2} and len(seen) == 8 + 3 * 4
    notes = [e.reason for e in runs.events(store, run_id) if e.reason.startswith("out of memory")]
    assert notes == ["out of memory at micro-batch 4; retrying with micro-batch 2 and grad_accum 4 (same effective batch)"]
    losses = {m.step: m.value for m in metrics.read(store, run_id, keys=["loss"])}
    straight = {m.step: m.value for m in metrics.read(store, straight_id, keys=["loss"])}
    assert list(losses) == list(range(1, 7))
    assert losses == pytest.approx(straight, rel=1e-4)


def test_a_resume_drops_the_samples_and_reports_written_past_its_checkpoint(store: Store, run_file,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen: killed during the evaluation at step 7 (samples at 6, checkpoint at 5), then resumed: `run samples`
    listed step 6 twice, and a diffusion run's eval report at step 20 was recorded twice (fault walk, item 8).
    Metrics past the checkpoint were dropped; artifact records were not."""
    from spark_trainer.store import artifacts
    from spark_trainer.training.reporting import TrainOutcome

    run_id, run_dir = _submit(store, run_file)
    (run_dir / "checkpoints" / "step-00000005").mkdir(parents=True)
    (run_dir / "checkpoints" / "step-00000005" / "state.json").write_text("{}")
    (run_dir / "samples").mkdir()
    (run_dir / "eval").mkdir()
    files = {}
    for kind, name, step, meta in (("sample", "samples/step-00000003.json", 3, {}),
                                   ("sample", "samples/step-00000006.json", 6, {}),
                                   ("sample_image", "samples/step-00000006-00.png", 6, {}),
                                   ("eval_report", "eval/step-00000007.json", 7, {}),
                                   ("eval_image", "eval/step-00000007-confusion.png", 7, {}),
                                   ("sample", "samples/playground-1.json", 6, {"source": "playground"})):
        files[name] = run_dir / name
        files[name].write_text("x")
        artifacts.add(store, run_id, kind, str(files[name]), step=step, meta=meta)
    artifacts.add(store, run_id, "checkpoint", str(run_dir / "checkpoints" / "step-00000005"), step=5)
    artifacts.add(store, run_id, "final", str(run_dir / "final"))
    # Set aside as damaged (the resume saves step 10 again, recorded anew); its folder is kept.
    (run_dir / "checkpoints" / "damaged-step-00000010").mkdir()
    artifacts.add(store, run_id, "checkpoint", str(run_dir / "checkpoints" / "step-00000010"), step=10)
    seen = []

    def stub(config, *, resume_from, **_):  # the resumed engine: what it starts from and what it finds recorded
        seen.append((resume_from.name, [(a.kind, a.step) for a in artifacts.list_for(store, run_id)]))
        return TrainOutcome("completed", 6, 6)

    monkeypatch.setattr(engine, "run_training", stub)
    oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    assert seen == [("step-00000005", [("sample", 3), ("sample", 6), ("checkpoint", 5), ("final", None)])]
    assert artifacts.list_for(store, run_id, "sample")[1].path == str(files["samples/playground-1.json"])
    assert sorted(name for name, path in files.items() if path.exists()) == [
        "samples/playground-1.json", "samples/step-00000003.json"]  # the run's own files past step 5 went too
    assert (run_dir / "checkpoints" / "damaged-step-00000010").is_dir()


def test_a_resume_from_a_checkpoint_is_an_event_naming_its_step(store: Store, run_file,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-import's refusal names the steps trained here from where the resume began (it said "steps 391-601"
    for a run resumed here from checkpoint 380): the run's history records that step."""
    from spark_trainer.training.reporting import TrainOutcome

    run_id, run_dir = _submit(store, run_file)
    (run_dir / "checkpoints" / "step-00000005").mkdir(parents=True)
    (run_dir / "checkpoints" / "step-00000005" / "state.json").write_text("{}")
    monkeypatch.setattr(engine, "run_training", lambda config, **_: TrainOutcome("completed", 6, 6))
    oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    assert [e.reason for e in runs.events(store, run_id) if e.reason.startswith(runs.RESUMED_FROM)] == [
        "resumed from checkpoint step 5 (dropped 0 metric points after step 5)"]


@pytest.mark.parametrize("compile_setting", [False, True])
def test_a_retry_frees_the_failed_attempts_model_before_it_trains(store: Store, run_file, monkeypatch,
                                                                   compile_setting) -> None:
    """On a GPU an attempt that ran out of memory must leave none of its memory to the retry: the compiled
    model's graphs held the first attempt's model, so on a real GPU each retry had less room than the last
    and even micro-batch 1 ran out (H200, a 160 MiB cap). Here the first attempt's forward pass runs (and
    compiles) before its out-of-memory; when the retry trains, that attempt's weights and compiled graphs
    must be gone."""
    import gc
    import weakref

    import torch
    from torch._dynamo.eval_frame import _debug_get_cache_entry_list

    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", "eager")  # dynamo's caches without inductor's compile time
    path = run_file(steps=2, ckpt_every=100, batch_size=4, grad_accum=1, auto_batch=True, compile=compile_setting)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    run_id, run_dir = run.id, Path(run.run_dir)
    models: dict[int, weakref.ref] = {}
    alive_at_retry: list[int] = []
    cached: list[int] = []  # compiled graphs of the model's forward methods when an attempt starts
    real_step = steps.launch_step

    def step(**step_args):
        size = len(step_args["micro_batches"][0]["input_ids"])
        if size not in models:
            gc.collect()
            alive_at_retry.extend(s for s, ref in models.items() if ref() is not None)
            model = getattr(step_args["model"], "_orig_mod", step_args["model"])
            codes = {type(m).forward.__code__ for m in model.modules()}
            cached.append(sum(len(_debug_get_cache_entry_list(code)) for code in codes))
            models[size] = weakref.ref(next(step_args["model"].parameters()))  # the memory, not a wrapper
        if size > 2:  # the forward pass runs, then the memory runs out
            step_args["loss_fn"](step_args["model"], step_args["micro_batches"][0])
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real_step(**step_args)

    monkeypatch.setattr(steps, "launch_step", step)
    outcome = oom_retry.train(store, run_id, frozen_config(run_dir), run_dir, Commands())
    assert outcome.status == "completed" and sorted(models) == [2, 4]
    assert alive_at_retry == [] and cached[1] == cached[0]  # the retry's own graphs only (its evaluation's)
