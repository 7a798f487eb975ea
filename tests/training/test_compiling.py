"""torch.compile in a run: auto means CUDA only, a compile failure falls back to eager with an
event and a completed run, and the warm-up is reported as its own figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.training.compiling import CompileState, is_compile_error, wanted
from spark_trainer.training.engine import run_training
from spark_trainer.training.reporting import Commands
from tests.training.helpers import RecordingReporter, make_config

FAILING_BACKEND = "spark_failing_backend_for_tests"
LAUNCH_FAILING_BACKEND = "spark_launch_failing_backend_for_tests"


class OutOfResources(Exception):
    """Shaped as Triton's own: raised when a compiled kernel first launches (too much shared memory)."""


OutOfResources.__module__ = "triton.runtime.errors"


@pytest.fixture
def failing_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    """A torch.compile backend that fails when the first graph is compiled (as inductor can)."""
    import torch._dynamo
    from torch._dynamo.backends.registry import _COMPILER_FNS

    def fail(graph_module, example_inputs):  # noqa: ANN001 - dynamo's backend signature
        raise RuntimeError("simulated compiler crash")

    if FAILING_BACKEND not in _COMPILER_FNS:
        torch._dynamo.register_backend(fail, name=FAILING_BACKEND)
    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", FAILING_BACKEND)
    yield FAILING_BACKEND
    torch.compiler.set_stance("default")


@pytest.fixture
def launch_failing_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    """A backend whose graphs build but fail when they first run, as Triton's kernels can at launch."""
    import torch._dynamo
    from torch._dynamo.backends.registry import _COMPILER_FNS

    def build(graph_module, example_inputs):  # noqa: ANN001 - dynamo's backend signature
        def launch(*args):  # noqa: ANN002 - the compiled graph's inputs
            raise OutOfResources("out of resource: shared memory, Required: 262144, Hardware limit: 232448")
        return launch

    if LAUNCH_FAILING_BACKEND not in _COMPILER_FNS:
        torch._dynamo.register_backend(build, name=LAUNCH_FAILING_BACKEND)
    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", LAUNCH_FAILING_BACKEND)
    yield LAUNCH_FAILING_BACKEND
    torch.compiler.set_stance("default")


def test_errors_of_the_compiled_kernels_machinery_count_as_compile_errors() -> None:
    import torch

    assert is_compile_error(OutOfResources("shared memory"))
    assert is_compile_error(RuntimeError("Triton Error [CUDA]: invalid argument"))
    assert not is_compile_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_compile_error(torch.OutOfMemoryError("CUDA out of memory"))  # auto_batch's, not compile's


def test_auto_compiles_on_cuda_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from spark_trainer.training import compiling

    monkeypatch.setattr(compiling, "cannot_build", lambda: None)  # this machine's headers and compiler aside
    assert wanted("auto", "cuda") and not wanted("auto", "cpu")
    assert wanted(True, "cpu") and not wanted(False, "cuda")


def test_auto_does_not_compile_where_kernels_cannot_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """The packaged app (no Python.h in it) failed every compile on CUDA: auto now trains eagerly there."""
    from spark_trainer.recipes.causal_lm_impl import attention_for
    from spark_trainer.training import compiling

    monkeypatch.setattr(compiling, "cannot_build", lambda: "the packaged app cannot build compiled kernels")
    assert not wanted("auto", "cuda") and wanted(True, "cuda")  # asked for by name: tried, with its fallback
    assert attention_for("auto", "auto", "cuda") == "spark_varlen"  # flex attention compiles itself
    assert attention_for("flex", "auto", "cuda") == "flex_attention"


def test_what_stops_kernels_being_built_is_named(tmp_path: Path) -> None:
    from spark_trainer.training.compiling import cannot_build

    (tmp_path / "Python.h").write_text("")
    assert cannot_build(frozen=False, include_dir=str(tmp_path), compiler="/usr/bin/cc") is None
    assert "packaged app" in cannot_build(frozen=True, include_dir=str(tmp_path), compiler="/usr/bin/cc")
    missing = cannot_build(frozen=False, include_dir=str(tmp_path / "none"), compiler="/usr/bin/cc")
    assert "Python.h" in missing and "python3-dev" in missing
    assert "C compiler" in cannot_build(frozen=False, include_dir=str(tmp_path), compiler="")


def test_run_file_default_is_auto(tiny_model: Path) -> None:
    assert make_config(tiny_model).train.compile == "auto"
    assert make_config(tiny_model, train={"compile": True}).train.compile is True


def test_compile_failure_in_the_first_step_falls_back_to_eager_and_completes(
        tiny_model: Path, counting_data: Path, tmp_path: Path, failing_backend: str) -> None:
    config = make_config(tiny_model, train={"max_steps": 3, "compile": True})
    rec = RecordingReporter()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rec,
                           commands=Commands())
    assert outcome.status == "completed" and outcome.step == 3
    assert len(rec.events) == 1 and rec.events[0].startswith("torch.compile failed (BackendCompilerFailed")
    assert "training continues without compile" in rec.events[0]
    assert "RuntimeError: simulated compiler crash" in rec.events[0], rec.events  # why, not only "raised:"
    assert sorted(rec.series("loss")) == [1, 2, 3]
    assert not rec.series("compile_warmup_s")  # nothing was compiled, so no warm-up to report
    efficiency = rec.series("packing_efficiency")  # reported once, at the first step
    assert list(efficiency) == [1] and 0.5 < efficiency[1] <= 1.0
    assert any(line.startswith("packing efficiency ") for line in rec.logs)
    assert rec.series("tokens")[1] > 0


@pytest.mark.slow  # dynamo traces the model (about a minute on 2 shared cores); the unit test above is the quick check
def test_compiled_kernels_that_fail_at_their_first_launch_fall_back_to_eager_and_complete(
        tiny_model: Path, counting_data: Path, tmp_path: Path, launch_failing_backend: str) -> None:
    config = make_config(tiny_model, train={"max_steps": 3, "compile": True})
    rec = RecordingReporter()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rec,
                           commands=Commands())
    assert outcome.status == "completed" and outcome.step == 3
    assert len(rec.events) == 1 and rec.events[0].startswith("torch.compile failed (OutOfResources: out of resource")
    assert sorted(rec.series("loss")) == [1, 2, 3]


@pytest.mark.slow  # dynamo tracing the model takes about a minute on 2 shared cores
def test_compiled_run_reports_its_warm_up(
        tiny_model: Path, counting_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", "eager")  # dynamo traces; no C++ build on 2 cores
    torch.compiler.set_stance("default")
    config = make_config(tiny_model, train={"max_steps": 3, "compile": True})
    rec = RecordingReporter()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rec,
                           commands=Commands())
    assert outcome.status == "completed" and not rec.events
    warm = rec.series("compile_warmup_s")
    assert list(warm) == [3] and warm[3] >= 0
    assert any(line.startswith("compile warm-up ") for line in rec.logs)


def test_worker_records_the_fallback_as_a_run_event_and_completes(store, tmp_path: Path, tiny_model: Path,
                                                                  counting_data: Path, failing_backend: str) -> None:
    from spark_trainer.config import save_config
    from spark_trainer.jobs import worker
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import runs

    path = tmp_path / "run.yaml"
    save_config(make_config(tiny_model, dataset=str(counting_data), train={"max_steps": 2, "compile": True}), path)
    from spark_trainer.config import load_config

    run = submit_config(store, load_config(path), base_dir=tmp_path).run
    outcome = worker.train(store, run.id, load_config(Path(run.run_dir) / "config.yaml"), Path(run.run_dir),
                           Commands())
    assert outcome.status == "completed" and outcome.step == 2
    reasons = [e.reason for e in runs.events(store, run.id)]
    assert any(r.startswith("torch.compile failed") and "without compile" in r for r in reasons), reasons


@pytest.mark.slow  # dynamo tracing the model takes about a minute on 2 shared cores
def test_evaluation_s_graphs_compile_before_the_first_step_not_at_the_first_evaluation(
        tiny_model: Path, counting_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluation runs the compiled model without gradients in eval mode (graphs of their own). Compiled
    at the first evaluation, they stalled the run there (and inside the benchmark's timed steps)."""
    import torch
    import torch._dynamo
    from torch._dynamo.utils import counters

    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", "eager")
    torch.compiler.set_stance("default")
    torch._dynamo.reset()
    counters.clear()
    graphs: dict[tuple[int, str], int] = {}

    class Counting(RecordingReporter):
        def on_metrics(self, step: int, values: dict[str, float]) -> None:
            super().on_metrics(step, values)
            kind = "eval" if any(k.startswith("eval_") for k in values) else "train"
            graphs[(step, kind)] = counters["stats"]["unique_graphs"]

    config = make_config(tiny_model, train={"max_steps": 4, "compile": True},
                         eval={"every_steps": 2, "val_fraction": 0.3})
    rec = Counting()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rec,
                           commands=Commands())
    assert outcome.status == "completed" and not rec.events
    assert (2, "eval") in graphs and (4, "eval") in graphs
    assert graphs[(1, "train")] >= 2  # the training graph and at least one evaluation graph
    assert set(graphs.values()) == {graphs[(1, "train")]}, graphs  # nothing compiled after the first step
    assert any("evaluation's graphs" in line for line in rec.logs)


RECORDING_BACKEND = "spark_recording_backend_for_tests"


@pytest.fixture
def recorded_graphs(monkeypatch: pytest.MonkeyPatch):
    """A backend that runs each graph as traced and records whether its shapes are symbolic (dynamic)."""
    import torch
    from torch._dynamo.backends.registry import _COMPILER_FNS

    graphs: list[bool] = []

    def record(graph_module, example_inputs):  # noqa: ANN001 - dynamo's backend signature
        graphs.append(any(isinstance(x, torch.SymInt) or (isinstance(x, torch.Tensor) and any(
            isinstance(d, torch.SymInt) for d in x.shape)) for x in example_inputs))
        return graph_module.forward

    if RECORDING_BACKEND not in _COMPILER_FNS:
        torch._dynamo.register_backend(record, name=RECORDING_BACKEND)
    else:
        _COMPILER_FNS[RECORDING_BACKEND] = record
    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", RECORDING_BACKEND)
    torch._dynamo.reset()
    yield graphs
    torch._dynamo.reset()


@pytest.mark.parametrize("fixed_shapes", [True, False])
def test_a_recipe_of_fixed_shapes_gets_static_graphs_for_each_batch_shape(recorded_graphs: list[bool],
                                                                          fixed_shapes: bool) -> None:
    """The evaluation's smaller last batch is a second shape: with fixed shapes it gets a static graph of its
    own; left to dynamo it became a dynamic-shape recompile of the whole model (the 1.1B benchmark on an
    H200 ran out of time in it)."""
    import torch

    model = CompileState(on_event=print).compile(torch.nn.Linear(4, 3), True, "cpu", fixed_shapes=fixed_shapes)
    for rows in (8, 4, 8, 4):  # training batches, the evaluation's last one, again
        model(torch.ones(rows, 4))
    if fixed_shapes:
        assert recorded_graphs == [False, False]  # one static graph per shape, each compiled once
    else:
        assert recorded_graphs == [False, True]  # dynamo's default: the second shape recompiled as a dynamic graph


def test_a_compiled_causal_lm_run_with_a_smaller_last_evaluation_batch_never_compiles_a_dynamic_graph(
        tiny_model: Path, counting_data: Path, tmp_path: Path, recorded_graphs: list[bool]) -> None:
    config = make_config(tiny_model, train={"max_steps": 2, "compile": True, "batch_size": 3},
                         eval={"every_steps": 2, "val_fraction": 0.2})
    rec = RecordingReporter()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rec,
                           commands=Commands())
    assert outcome.status == "completed" and not rec.events
    assert rec.series("eval_loss") and recorded_graphs and not any(recorded_graphs), recorded_graphs


def _lora_llama(layers: int):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=200, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=4, use_cache=False)
    return get_peft_model(LlamaForCausalLM(config), LoraConfig(r=4, target_modules="all-linear"))


def test_repeated_blocks_are_a_transformer_s_layers_and_nothing_in_a_model_without_them() -> None:
    import torch

    from spark_trainer.training.compiling import repeated_blocks

    model = _lora_llama(3)
    assert repeated_blocks(model) == list(model.base_model.model.model.layers)
    # A UNet's lists hold blocks of different classes or a small share of the weights: compiled whole.
    mixed = torch.nn.Sequential(torch.nn.Embedding(1000, 64), torch.nn.ModuleList([torch.nn.Linear(4, 4)] * 3),
                                torch.nn.ModuleList([torch.nn.Linear(64, 64), torch.nn.Conv2d(64, 64, 3)]))
    assert repeated_blocks(mixed) == []


def test_a_transformer_compiles_block_by_block_in_place_sharing_one_graph(recorded_graphs: list[bool]) -> None:
    """The whole model as one graph made the warm-up grow with the depth (a 1.1B model's three graphs:
    training, evaluation and its last batch, took the benchmark's 154 s on an H200)."""
    import torch

    eager = _lora_llama(4)
    model = _lora_llama(4)
    names = list(model.state_dict())
    state = CompileState(on_event=print)
    compiled = state.compile(model, True, "cpu", fixed_shapes=True)
    assert compiled is model and list(compiled.state_dict()) == names and state.regions == 4
    ids = torch.arange(64).reshape(2, 32)
    loss = compiled(input_ids=ids, labels=ids).loss
    loss.backward()
    # The first layer's input needs no gradient (frozen embeddings), the others' do: two graphs for four layers.
    assert len(recorded_graphs) == 2, recorded_graphs
    assert torch.allclose(loss, eager(input_ids=ids, labels=ids).loss)


def test_compiling_the_whole_model_as_one_graph_remains_available(recorded_graphs: list[bool],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("SPARK_TRAINER_COMPILE_REGIONS", "0")
    state = CompileState(on_event=print)
    compiled = state.compile(_lora_llama(4), True, "cpu", fixed_shapes=True)
    ids = torch.arange(64).reshape(2, 32)
    compiled(input_ids=ids, labels=ids).loss.backward()
    assert state.regions == 0 and len(recorded_graphs) == 1


def test_samples_are_generated_eagerly_by_a_block_compiled_model(
        tiny_model: Path, counting_data: Path, tmp_path: Path, recorded_graphs: list[bool]) -> None:
    """Blocks compiled in place stay compiled in the unwrapped model: generation's growing lengths would
    recompile them at every new length."""
    config = make_config(tiny_model, train={"max_steps": 4, "compile": True}, eval={"samples_every_steps": 2})
    rec = RecordingReporter()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rec,
                           commands=Commands())
    assert outcome.status == "completed" and not rec.events, rec.events
    assert any("block by block" in line for line in rec.logs), rec.logs
    assert (tmp_path / "run" / "samples").is_dir()
    assert len(recorded_graphs) <= 4, len(recorded_graphs)  # training's and evaluation's, none per generated length


def test_a_unet_is_compiled_whole_unless_its_declared_blocks_are_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A UNet's blocks differ in class and shape from level to level: by default it is one graph. Asked for
    (`declared`), the blocks it names itself (diffusers' `_repeated_blocks`) are compiled one by one."""
    import torch
    from diffusers import UNet2DConditionModel

    from spark_trainer.bench.diffusion import PRESETS
    from spark_trainer.training import compiling

    with torch.device("meta"):
        unet = UNet2DConditionModel(**PRESETS["tiny"].unet_config())
    wrapper = torch.nn.ModuleDict({"unet": unet})  # as the recipe's train module holds it
    assert compiling.repeated_blocks(wrapper) == []
    blocks = compiling.declared_blocks(wrapper)
    assert blocks and {type(b).__name__ for b in blocks} == set(unet._repeated_blocks)

    asked: list[tuple[str, object]] = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: asked.append((type(self).__name__, kw["dynamic"])))
    monkeypatch.setattr(torch, "compile", lambda model, **kw: asked.append(("whole", kw["dynamic"])) or model)
    CompileState(on_event=print).compile(wrapper, True, "cpu")
    assert asked == [("whole", None)]
    monkeypatch.setenv("SPARK_TRAINER_COMPILE_REGIONS", "declared")
    asked.clear()
    state = CompileState(on_event=print)
    state.compile(wrapper, True, "cpu")
    assert asked == [(type(b).__name__, False) for b in blocks] and state.regions == len(blocks)  # static per level
    asked.clear()
    CompileState(on_event=print).compile(_lora_llama(2), True, "cpu")  # nothing declared: the layers, as without it
    assert asked == [("LlamaDecoderLayer", None)] * 2


def test_compiled_blocks_on_cuda_are_partitioned_under_the_activation_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """On an H200 the default run's blocks kept 62.8 KiB a token and layer for the backward pass; under the
    budget 39.9, at the same step time. The budget holds while the run's calls compile their graphs, and only
    there; the CPU (where it was not measured) and a whole-model compile keep torch's default."""
    import torch._functorch.config as functorch_config

    from spark_trainer.errors import ConfigError
    from spark_trainer.training import compiling

    def budget_inside(device_type: str, **env: str) -> tuple[float | None, float]:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            state = CompileState(on_event=print)
            state.compile(_lora_llama(2), True, device_type, fixed_shapes=True)
            return state.budget, state.run(lambda: functorch_config.activation_memory_budget)

    default = functorch_config.activation_memory_budget
    assert budget_inside("cuda") == (compiling.ACTIVATION_BUDGET, compiling.ACTIVATION_BUDGET) and compiling.ACTIVATION_BUDGET < 1
    assert functorch_config.activation_memory_budget == default == 1.0
    assert budget_inside("cpu") == (None, 1.0)
    assert budget_inside("cuda", SPARK_TRAINER_COMPILE_REGIONS="0") == (None, 1.0)
    assert budget_inside("cuda", SPARK_TRAINER_ACTIVATION_BUDGET="1") == (None, 1.0)
    assert budget_inside("cpu", SPARK_TRAINER_ACTIVATION_BUDGET="0.5") == (0.5, 0.5)
    monkeypatch.setenv("SPARK_TRAINER_ACTIVATION_BUDGET", "lots")
    with pytest.raises(ConfigError, match="SPARK_TRAINER_ACTIVATION_BUDGET must be a number in \\(0, 1\\], got 'lots'"):
        CompileState(on_event=print).compile(_lora_llama(2), True, "cuda")
