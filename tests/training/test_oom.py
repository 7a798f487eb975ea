"""Out of memory during sampling and model loading (issue 14, item 5), with a simulated CUDA OOM.

Sampling does not depend on the micro-batch and is not needed to train: a round that runs out of
memory is skipped with a run event, and after two such rounds sampling is off for the run. Loading
the model does not depend on the micro-batch either: its OOM ends the run with advice and is never
retried by `train.auto_batch`. Evaluation OOM is in tests/jobs/test_oom_retry.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
from spark_trainer.training import oom
from spark_trainer.training.engine import run_training
from spark_trainer.training.oom import OutOfMemory
from spark_trainer.training.reporting import Commands
from tests.training.helpers import RecordingReporter, make_config


def _oom_in_sampling(monkeypatch: pytest.MonkeyPatch, fail_calls: set[int]) -> list[int]:
    """CUDA's OOM error from the sampling calls numbered in `fail_calls` (1-based); others really sample."""
    import torch

    real = CausalLMRecipe.generate_samples
    calls: list[int] = []

    def generate_samples(self, model):
        calls.append(len(calls) + 1)
        if calls[-1] in fail_calls:
            torch.zeros(1024)  # something allocated, as a real generate would have
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB (simulated)")
        return real(self, model)

    monkeypatch.setattr(CausalLMRecipe, "generate_samples", generate_samples)
    return calls


def _train(tiny_model: Path, counting_data: Path, tmp_path: Path, **sections) -> tuple[object, RecordingReporter]:
    config = make_config(tiny_model, eval={"samples_every_steps": 2, "sample_prompts": ["count:"]}, **sections)
    reporter = RecordingReporter()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=reporter,
                           commands=Commands())
    return outcome, reporter


def _sample_steps(reporter: RecordingReporter) -> list[int | None]:
    return [step for kind, _path, step in reporter.artifacts if kind == "sample"]


def test_one_sampling_oom_skips_that_round_and_training_goes_on(tiny_model, counting_data, tmp_path,
                                                                monkeypatch) -> None:
    calls = _oom_in_sampling(monkeypatch, {1})
    outcome, reporter = _train(tiny_model, counting_data, tmp_path)
    assert outcome.status == "completed" and outcome.step == 6
    assert calls == [1, 2, 3]  # steps 2, 4 and 6 all tried
    assert _sample_steps(reporter) == [4, 6]
    assert not (tmp_path / "run" / "samples" / "step-00000002.json").exists()
    assert json.loads((tmp_path / "run" / "samples" / "step-00000004.json").read_text())["samples"]
    assert reporter.events == [
        f"samples at step 2 skipped: the GPU ran out of memory generating them; training continues ({oom.SAMPLING_ADVICE})"]
    assert sorted(s for s, v in reporter.metrics.items() if "loss" in v) == [1, 2, 3, 4, 5, 6]


def test_repeated_sampling_ooms_turn_sampling_off_for_the_run(tiny_model, counting_data, tmp_path,
                                                              monkeypatch) -> None:
    calls = _oom_in_sampling(monkeypatch, {1, 2, 3})
    outcome, reporter = _train(tiny_model, counting_data, tmp_path)
    assert outcome.status == "completed" and outcome.step == 6
    assert calls == [1, 2]  # steps 2 and 4; nothing tried at 6
    assert _sample_steps(reporter) == []
    assert [e.split(";")[0] for e in reporter.events] == [
        "samples at step 2 skipped: the GPU ran out of memory generating them",
        "samples at step 4 skipped: the GPU ran out of memory generating them"]
    assert "sampling is off for the rest of this run" in reporter.events[1]


def test_a_sampling_oom_in_a_sharded_run_stops_it_with_advice(monkeypatch) -> None:
    """Every process of an FSDP run samples in step: one must not skip alone, so the run stops."""
    import torch

    class State:
        sharded, sample_ooms, samples_off = True, 0, False
        config = make_config(Path("unused"))
        report = RecordingReporter()

    def generate() -> list:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.raises(OutOfMemory, match="generating samples at step 6; lower the sampling frequency") as info:
        oom.sampling(State(), 6, generate)
    assert info.value.micro_batch == 1  # nothing for auto_batch to halve: the launcher does not retry
    assert info.value.where == "sampling"
    assert State.report.events == []


def test_an_oom_loading_the_model_is_not_retried_and_says_what_to_do(tiny_model, counting_data, tmp_path,
                                                                     monkeypatch) -> None:
    import torch

    loads: list[int] = []

    def build_model(self, device, precision):
        loads.append(1)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")

    monkeypatch.setattr(CausalLMRecipe, "build_model", build_model)
    config = make_config(tiny_model, train={"auto_batch": True, "batch_size": 8})
    with pytest.raises(OutOfMemory) as info:
        run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=RecordingReporter(),
                     commands=Commands())
    message = str(info.value)
    assert "ran out of memory during model loading" in message
    assert "use a smaller model, quantization (method: qlora) or a GPU with more memory" in message
    assert info.value.micro_batch == 1 and loads == [1]  # micro-batch 1: auto_batch has nothing to halve
    assert not list((tmp_path / "run").glob("checkpoint-*"))
