"""The engine end to end on the CPU: learning, exact resume, commands, final artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint, list_checkpoints
from spark_trainer.training.engine import run_training
from spark_trainer.training.reporting import Commands, StopKind
from tests.training.helpers import RecordingReporter, commands_for, make_config


def train(config, data: Path, run_dir: Path, *, stop_at: int | None = None, resume_from: Path | None = None,
          commands: Commands | None = None):
    commands = commands or commands_for(stop_at)
    reporter = RecordingReporter(commands)
    outcome = run_training(config, data_path=data, run_dir=run_dir, reporter=reporter, commands=commands,
                           resume_from=resume_from)
    return outcome, reporter


def test_lora_loss_falls_and_validation_perplexity_improves(tiny_model, counting_data, tmp_path):
    config = make_config(tiny_model, train={"max_steps": 30}, eval={"every_steps": 10})
    outcome, rep = train(config, counting_data, tmp_path / "run")

    losses = list(rep.series("loss").values())
    perplexity = rep.series("eval_perplexity")
    assert outcome.status == "completed" and outcome.step == 30
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:3]) / 3, losses
    assert perplexity[30] < 0.7 * perplexity[10], perplexity
    assert {"lr", "grad_norm", "tokens_per_s", "samples_per_s"} <= set(rep.metrics[1])
    assert rep.progress[-1] == (30, 30)
    final = outcome.final_path
    assert (final / "adapter_config.json").is_file() and (final / "tokenizer.json").is_file()

    from peft import AutoPeftModelForCausalLM

    loaded = AutoPeftModelForCausalLM.from_pretrained(final)
    assert loaded.peft_config["default"].r == 16


def test_each_steps_logged_learning_rate_is_the_one_it_trained_with(tiny_model, counting_data, tmp_path):
    # The rate logged was the next step's: a one-step cosine run logged 0 for a step that used the peak,
    # and a warm-up's first step showed its second's rate.
    config = make_config(tiny_model, train={"max_steps": 3, "warmup_steps": 4, "lr_scheduler": "constant"})
    _outcome, rep = train(config, counting_data, tmp_path / "warm")
    assert rep.series("lr") == pytest.approx({1: 0.25e-2, 2: 0.5e-2, 3: 0.75e-2})
    config = make_config(tiny_model, train={"max_steps": 1, "warmup_steps": 0, "lr_scheduler": "cosine"})
    _outcome, rep = train(config, counting_data, tmp_path / "one")
    assert rep.series("lr") == pytest.approx({1: 1e-2})


def test_stopped_then_resumed_run_matches_an_uninterrupted_one_bitwise(tiny_model, counting_data, tmp_path):
    # Dropout on the LoRA path consumes random numbers, so RNG state must be restored too.
    config = make_config(tiny_model, train={"max_steps": 8}, recipe_config={"lora_dropout": 0.1,
                                                                           "target_modules": "all-linear"})
    _, straight = train(config, counting_data, tmp_path / "straight")

    stopped, first = train(config, counting_data, tmp_path / "resumed", stop_at=4)
    assert stopped.status == "stopped" and stopped.step == 4
    ckpt = latest_checkpoint(tmp_path / "resumed")
    assert ckpt == stopped.last_checkpoint and checkpoint_step(ckpt) == 4
    resumed, second = train(config, counting_data, tmp_path / "resumed", resume_from=ckpt)

    assert second.started == (4, 8)
    assert resumed.status == "completed" and resumed.step == 8
    after = {s: v for s, v in second.series("loss").items()}
    assert list(after) == [5, 6, 7, 8]
    assert after == {s: straight.series("loss")[s] for s in after}  # exact float equality
    assert first.series("loss") == {s: straight.series("loss")[s] for s in range(1, 5)}


class _AskingAtStart(RecordingReporter):
    """Asks for a save, a sample and a pause as training starts (as the GUI's buttons do on a run that
    is running); a pause asked before that ends the run in start-up, with nothing trained."""

    def on_start(self, *, start_step: int, total_steps: int) -> None:
        super().on_start(start_step=start_step, total_steps=total_steps)
        self.commands.request_save()
        self.commands.request_sample()
        self.commands.request_stop(StopKind.PAUSE)  # honoured after the first step, with a checkpoint


def test_save_now_sample_now_and_pause(tiny_model, counting_data, tmp_path):
    config = make_config(tiny_model, train={"max_steps": 5}, recipe_config={"sample_prompts": ["count 3"]})
    commands = Commands()
    rep = _AskingAtStart(commands)
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rep, commands=commands)

    assert outcome.status == "stopped" and outcome.step == 1
    kinds = [(k, s) for k, _, s in rep.artifacts]
    assert ("sample", 1) in kinds and ("checkpoint", 1) in kinds
    sample = next(p for k, p, _ in rep.artifacts if k == "sample")
    assert '"prompt": "count 3"' in sample.read_text()
    assert outcome.final_path is None


def test_checkpoints_keep_last_k_and_epochs_set_the_step_count(tiny_model, counting_data, tmp_path):
    config = make_config(tiny_model, train={"max_steps": None, "epochs": 2, "batch_size": 4},
                         checkpoint={"every_steps": 1, "keep": 2, "keep_best": False})
    outcome, rep = train(config, counting_data, tmp_path / "run")
    assert outcome.status == "completed"
    assert rep.metrics[outcome.step]["epoch"] == pytest.approx(2.0)
    steps = [checkpoint_step(p) for p in list_checkpoints(tmp_path / "run")]
    assert steps == [outcome.step - 1, outcome.step]


@pytest.mark.parametrize("method", ["full", "dora"])
def test_full_and_dora_fine_tuning_save_loadable_final_models(tiny_model, counting_data, tmp_path, method):
    config = make_config(tiny_model, train={"max_steps": 2, "learning_rate": 1e-3,
                                            "gradient_checkpointing": method == "dora"},
                         recipe_config={"method": method, "target_modules": "all-linear"})
    outcome, rep = train(config, counting_data, tmp_path / "run")
    assert outcome.status == "completed" and outcome.final_path is not None
    assert all(v["grad_norm"] > 0 for v in rep.metrics.values())  # gradients reach the trained weights
    if method == "full":
        from transformers import AutoModelForCausalLM

        assert AutoModelForCausalLM.from_pretrained(outcome.final_path).num_parameters() > 100_000
    else:
        import json

        adapter = json.loads((outcome.final_path / "adapter_config.json").read_text())
        assert adapter["use_dora"] is True


def test_qlora_trains_4bit_base_with_adapters(tiny_model, counting_data, tmp_path):
    """QLoRA for real: the base's linear layers are 4-bit NF4 (bitsandbytes runs on the CPU too)."""
    pytest.importorskip("bitsandbytes")
    import json

    config = make_config(tiny_model, train={"max_steps": 12, "learning_rate": 3e-3, "warmup_steps": 0},
                         recipe_config={"method": "qlora", "target_modules": "all-linear"},
                         eval={"every_steps": None})
    outcome, rep = train(config, counting_data, tmp_path / "run")
    assert outcome.status == "completed" and outcome.final_path is not None
    losses = [rep.metrics[s]["loss"] for s in sorted(rep.metrics) if "loss" in rep.metrics[s]]
    assert len(losses) == 12 and min(losses[-3:]) < losses[0]
    assert any("quantized to 4-bit NF4" in line for line in rep.logs), rep.logs
    adapter = json.loads((outcome.final_path / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA" and adapter["r"] == 16


def test_a_qlora_run_evaluated_on_the_cpu_trains_as_one_never_evaluated(tiny_model, counting_data, tmp_path):
    """On a CPU with AVX512-BF16 (this project's machines), bitsandbytes repacked the 4-bit weights at the
    first evaluation and then trained through a kernel without a backward: the layers below got no
    gradient, and a run evaluated every 4 steps drifted from step 6 on from one never evaluated."""
    pytest.importorskip("bitsandbytes")

    def losses(every: int | None, name: str) -> list[float]:
        config = make_config(tiny_model, train={"max_steps": 10, "learning_rate": 3e-3, "warmup_steps": 0},
                             recipe_config={"method": "qlora", "target_modules": "all-linear"},
                             eval={"every_steps": every, "samples_every_steps": None})
        outcome, rep = train(config, counting_data, tmp_path / name)
        assert outcome.status == "completed"
        return [rep.metrics[s]["loss"] for s in sorted(rep.metrics) if "loss" in rep.metrics[s]]

    assert losses(3, "evaluated") == losses(None, "never")


def test_dataset_folder_with_manifest_uses_its_splits(tiny_model, tmp_path):
    import json

    folder = tmp_path / "dataset"
    folder.mkdir()
    rows = [{"split": "val" if i % 5 == 0 else "train", "sha256": str(i), "source": f"chat.jsonl:{i + 1}",
             "record": {"prompt": f"say {i}", "completion": f" {i} {i + 1}"}} for i in range(40)]
    rows.append({"split": "train", "sha256": "img", "source": "a.png", "kind": "image"})  # not text: skipped
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = make_config(tiny_model, train={"max_steps": 2}, recipe_config={"packing": False,
                                                                           "target_modules": "all-linear"})
    outcome, rep = train(config, folder, tmp_path / "run")
    assert outcome.status == "completed"
    assert any("training 32 rows (8 validation)" in line for line in rep.logs), rep.logs
    assert "eval_loss" in outcome.metrics


def test_a_run_without_validation_rows_says_it_is_never_evaluated(tiny_model, tmp_path):
    # Seen in the CLI walk: a dataset ingested with --val-fraction 0 trained with no eval_* metric ever,
    # and nothing in the run's history said why.
    import json

    folder = tmp_path / "dataset"
    folder.mkdir()
    rows = [{"split": "train", "sha256": str(i), "source": f"chat.jsonl:{i + 1}",
             "record": {"prompt": f"say {i}", "completion": f" {i} {i + 1}"}} for i in range(12)]
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = make_config(tiny_model, train={"max_steps": 2}, recipe_config={"packing": False})
    outcome, rep = train(config, folder, tmp_path / "run")
    assert outcome.status == "completed" and "eval_loss" not in outcome.metrics
    said = [e for e in rep.events if "no validation rows" in e]
    assert said == ["the dataset has no validation rows, so this run is never evaluated (no eval_ metrics); "
                    "ingest it with a validation share (--val-fraction, the run file's eval.val_fraction)"], rep.events


def test_early_stopping_ends_a_run_whose_validation_loss_stops_improving(tiny_model, counting_data, tmp_path):
    # A learning rate of 1 with no clipping wrecks the model: validation loss climbs at once.
    config = make_config(tiny_model, train={"max_steps": 20, "learning_rate": 1.0, "lr_scheduler": "constant",
                                            "warmup_steps": 0, "max_grad_norm": None,
                                            "early_stopping_patience": 2},
                         eval={"every_steps": 1})
    outcome, rep = train(config, counting_data, tmp_path / "run")
    evals = rep.series("eval_loss")
    assert outcome.status == "completed" and outcome.step < 20, evals
    assert any("early stopping at step" in line for line in rep.logs)
    assert outcome.best_metric == min(evals.values())
    # The run's completion says so, not only worker.log ("completed 20 steps" beside 20/300, a user walk).
    from spark_trainer.jobs.finish import outcome_finish
    from spark_trainer.training.reporting import Commands

    assert outcome_finish(outcome, Commands()).reason == (
        f"completed {outcome.step} steps of 20 (early stopping: eval_loss did not improve in 2 evaluations)")


def test_a_checkpoint_between_evaluations_records_when_its_metric_was_measured(tiny_model, counting_data, tmp_path):
    # docswalk: `run checkpoints` showed the step-150 checkpoint with the eval loss measured at step 100
    # as if it were that checkpoint's. Evaluations every 4 steps, checkpoints every 3, a pause at 5.
    from spark_trainer.jobs.run_checkpoints import checkpoint_rows

    config = make_config(tiny_model, train={"max_steps": 8}, eval={"every_steps": 4},
                         checkpoint={"every_steps": 3, "keep": 10, "keep_best": False})
    stopped, _ = train(config, counting_data, tmp_path / "run", stop_at=5)
    assert stopped.status == "stopped" and stopped.step == 5
    resumed, _ = train(config, counting_data, tmp_path / "run", resume_from=latest_checkpoint(tmp_path / "run"))
    assert resumed.status == "completed"
    rows = {r.step: r for r in checkpoint_rows(tmp_path / "run")}
    assert sorted(rows) == [3, 5, 6, 8]
    assert rows[3].metric is None and rows[3].metric_text() == "-"  # nothing evaluated yet
    assert (rows[5].metric_step, rows[6].metric_step, rows[8].metric_step) == (4, 4, 8)  # 6: after the resume
    assert rows[6].metric == rows[5].metric and rows[6].metric_text() == f"{rows[6].metric:.4f} (at step 4)"
    assert rows[8].metric_text() == f"{rows[8].metric:.4f}"  # measured at its own step: no note


def test_a_run_resumed_at_its_last_step_is_not_evaluated_there_again(tiny_model, counting_data, tmp_path):
    # faultwalk: a worker killed after its final checkpoint (12/12) was resumed: `run metrics --key eval_loss`
    # listed step 12 twice, and the step-12 checkpoint was saved (and recorded) a second time.
    config = make_config(tiny_model, train={"max_steps": 4}, eval={"every_steps": 2})
    done, first = train(config, counting_data, tmp_path / "run")
    assert done.status == "completed" and sorted(first.series("eval_loss")) == [2, 4]
    final = latest_checkpoint(tmp_path / "run")
    assert checkpoint_step(final) == 4
    again, second = train(config, counting_data, tmp_path / "run", resume_from=final)
    assert again.status == "completed" and again.step == 4
    assert second.series("eval_loss") == {}  # nothing evaluated: step 4 was, before the kill
    assert [a for a in second.artifacts if a[0] == "checkpoint"] == []  # nor saved and recorded again
    assert again.last_checkpoint == final and (final / "state.json").is_file()


def _record_launches(monkeypatch, order: list[tuple[str, int]], fail_at: int | None = None) -> None:
    """Record each step's launch and read-back (and side work) in `order`; launch `fail_at` runs out of memory."""
    import torch

    from spark_trainer.training import steps
    from spark_trainer.training.side_work import SideWork

    real_launch, real_evaluate, real_save = steps.launch_step, SideWork.evaluate, SideWork.save

    def launch(**step_args):
        n = sum(1 for kind, _ in order if kind == "launch") + 1
        if n == fail_at:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        launched = real_launch(**step_args)
        real_settle = launched.settle
        launched.settle = lambda: (order.append(("settle", n)) if launched.settled is None else None, real_settle())[1]
        order.append(("launch", n))
        return launched

    monkeypatch.setattr(steps, "launch_step", launch)
    monkeypatch.setattr(SideWork, "evaluate", lambda self, step, *a: (order.append(("evaluate", step)),
                                                                       real_evaluate(self, step, *a))[1])
    monkeypatch.setattr(SideWork, "save", lambda self, step, *a: (order.append(("save", step)), real_save(self, step, *a))[1])


def test_the_next_step_is_queued_before_a_steps_numbers_are_read_back(tiny_model, counting_data, tmp_path, monkeypatch):
    # A read-back waits for the device to finish: reading step n's loss before queuing step n + 1 left the
    # GPU idle while the host reported, judged and prepared the next batch, every step. Side work (an
    # evaluation, a checkpoint) and the last step still see their own step's numbers first.
    order: list[tuple[str, int]] = []
    _record_launches(monkeypatch, order)
    config = make_config(tiny_model, train={"max_steps": 6}, eval={"every_steps": 3},
                         checkpoint={"every_steps": 4, "keep": 5})
    outcome, rep = train(config, counting_data, tmp_path / "run")
    assert outcome.status == "completed" and outcome.step == 6
    assert order == [("launch", 1), ("launch", 2), ("settle", 1), ("launch", 3), ("settle", 2), ("settle", 3),
                     ("evaluate", 3), ("launch", 4), ("settle", 4), ("save", 4), ("launch", 5), ("launch", 6),
                     ("settle", 5), ("settle", 6), ("evaluate", 6), ("save", 6)]
    assert list(rep.series("loss")) == [1, 2, 3, 4, 5, 6] and rep.progress == [(s, 6) for s in range(1, 7)]
    assert "each step is queued before the one before it is read back" in rep.logs
    assert all(v > 0 for v in rep.series("tokens_per_s").values())


def test_each_steps_rate_is_its_own_time_also_before_side_work_and_at_the_end(
        tiny_model, counting_data, tmp_path, monkeypatch):
    # Seen in a walk: tokens_per_s and samples_per_s were ~300x too high at every evaluation, sample or
    # checkpoint step and at the last step, so `compare`, the leaderboard and the Throughput chart showed
    # the spikes. Settled right after the step before it, such a step was timed from that read-back.
    # Here every launch takes 2 s of a fake clock and nothing else does: every step's rate is 2 s's.
    from types import SimpleNamespace

    from spark_trainer.training import engine, steps

    clock = [1000.0]
    real_launch = steps.launch_step

    def launch(**step_args):
        launched = real_launch(**step_args)
        clock[0] += 2.0
        return launched

    monkeypatch.setattr(steps, "launch_step", launch)
    monkeypatch.setattr(engine, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    config = make_config(tiny_model, train={"max_steps": 6}, eval={"every_steps": 3},
                         checkpoint={"every_steps": 4, "keep": 5})
    outcome, rep = train(config, counting_data, tmp_path / "run")
    assert outcome.status == "completed"
    assert rep.series("samples_per_s") == {step: 4 / 2.0 for step in range(1, 7)}  # batch_size 4, one process
    tokens = rep.series("tokens_per_s")
    assert all(tokens[step] == pytest.approx(rep.metrics[step]["tokens"] / 2.0) for step in range(1, 7)), tokens
    # Its log names the rows it trains on as what they are (packed: "training 26 rows" read as 26 examples
    # beside "tokenized 133 rows").
    assert any(line.startswith("training ") and " packed rows (" in line for line in rep.logs), rep.logs


def test_an_optimizer_that_cannot_skip_on_the_device_reads_each_step_back_before_the_next(
        tiny_model, counting_data, tmp_path, monkeypatch):
    import torch

    from spark_trainer.training import steps

    order: list[tuple[str, int]] = []
    _record_launches(monkeypatch, order)
    monkeypatch.setattr(steps, "make_optimizer", lambda params, lr, wd, device, **_: torch.optim.AdamW(
        params, lr=lr, weight_decay=wd, foreach=True))
    outcome, rep = train(make_config(tiny_model, train={"max_steps": 3}), counting_data, tmp_path / "run")
    assert outcome.status == "completed"
    assert "each step is read back before the next is queued: the optimizer is not fused (the state of a " \
           "checkpoint from before it was)" in rep.logs
    assert order == [("launch", 1), ("settle", 1), ("launch", 2), ("settle", 2), ("launch", 3), ("settle", 3),
                     ("evaluate", 3), ("save", 3)]


def test_a_step_that_fails_to_launch_leaves_the_step_before_it_reported(tiny_model, counting_data, tmp_path,
                                                                         monkeypatch):
    from spark_trainer.training.oom import OutOfMemory

    order: list[tuple[str, int]] = []
    _record_launches(monkeypatch, order, fail_at=3)
    reporter = RecordingReporter()
    with pytest.raises(OutOfMemory):
        run_training(make_config(tiny_model, train={"max_steps": 6}), data_path=counting_data,
                     run_dir=tmp_path / "run", reporter=reporter, commands=Commands())
    assert order == [("launch", 1), ("launch", 2), ("settle", 1), ("settle", 2)]
    assert list(reporter.series("loss")) == [1, 2]


def test_read_back_each_step_turns_the_queuing_off(tiny_model, counting_data, tmp_path, monkeypatch):
    # The benchmark's baseline for what the queuing gains (benchmarks/gpu_check.sh, phase 3).
    order: list[tuple[str, int]] = []
    _record_launches(monkeypatch, order)
    monkeypatch.setenv("SPARK_TRAINER_READ_BACK_EACH_STEP", "1")
    outcome, rep = train(make_config(tiny_model, train={"max_steps": 2}, eval={"val_fraction": 0}), counting_data,
                         tmp_path / "run")
    assert outcome.status == "completed"
    assert "each step is read back before the next is queued: SPARK_TRAINER_READ_BACK_EACH_STEP=1" in rep.logs
    assert order == [("launch", 1), ("settle", 1), ("launch", 2), ("settle", 2), ("save", 2)]


def test_a_stop_between_micro_batches_drops_that_step_and_a_resume_trains_it_exactly(
        tiny_model, counting_data, tmp_path, monkeypatch):
    # A stop waited for the rest of a step of many micro-batches (a minute on a large model), and after the
    # grace period the worker was killed. Now the step in flight is dropped; dropout draws random numbers,
    # so the random state saved must be the one before the dropped step.
    from spark_trainer.training import steps

    config = make_config(tiny_model, train={"max_steps": 6, "grad_accum": 4, "batch_size": 2},
                         recipe_config={"lora_dropout": 0.1, "target_modules": "all-linear"})
    _, straight = train(config, counting_data, tmp_path / "straight")

    commands, calls, real_to = Commands(), [], steps.on_device

    def to_device(batch, device):
        calls.append(1)
        if len(calls) == 14:  # step 4's second micro-batch: its third is never run
            commands.request_stop(StopKind.PAUSE)
        return real_to(batch, device)

    monkeypatch.setattr(steps, "on_device", to_device)
    stopped, first = train(config, counting_data, tmp_path / "resumed", commands=commands)
    monkeypatch.setattr(steps, "on_device", real_to)
    assert stopped.status == "stopped" and stopped.step == 3 and len(calls) == 14
    assert checkpoint_step(stopped.last_checkpoint) == 3 and list(first.series("loss")) == [1, 2, 3]
    assert any("step 4 was dropped between its micro-batches" in line for line in first.logs)
    resumed, second = train(config, counting_data, tmp_path / "resumed", resume_from=stopped.last_checkpoint)
    assert resumed.status == "completed" and second.started == (3, 6)
    assert second.series("loss") == {s: straight.series("loss")[s] for s in (4, 5, 6)}  # exact float equality
