"""torch.compile for a run: when to compile, falling back to eager on failure, warm-up time.

`train.compile: auto` (the default) compiles on CUDA, where it pays (fused kernels, fewer launches),
and not on the CPU, where the warm-up costs more than it saves on short runs; nor where the kernels
cannot be built (no Python headers or C compiler, the packaged app: `cannot_build`). A compile failure is
never a failed run: the model goes on eagerly (`torch.compiler.set_stance("force_eager")`) and the
run gets an event saying why. Row shapes are fixed (packed rows are padded to `recipe_config.seq_len`), so
the training graph compiles once; `TORCH_LOGS=recompiles` shows any recompilation. A recipe whose rows
are of one shape says so (`fixed_shapes`), and its model is compiled with `dynamic=False`: the
evaluation's smaller last batch then gets a static graph of its own. Left to dynamo, that second shape
recompiled the whole model as a dynamic-shape graph, and the default-run benchmark of a 1.1B model on
an H200 ran out of its 154 s after that recompile began, with no training step logged
(gpu_check_20261204-1301.log, in the history at 5539f9d).
Recipes whose batches vary (texts padded to their longest) keep dynamo's default, which stops
recompiling once a dimension is marked dynamic.

A model made of repeated blocks (a transformer's layers: `repeated_blocks`) is compiled block by block,
in place, rather than as one graph: the blocks share one compiled graph, so the warm-up no longer grows
with the depth (a LoRA model of 8 layers on the CPU: 8.2 s instead of 22.4 s to the first step; each
extra shape, such as the evaluation's, costs one block's compile, not the whole model's). The rest of
the model (embeddings, final norm, the fused loss) runs eagerly. `SPARK_TRAINER_COMPILE_REGIONS=0`
compiles the whole model as one graph instead (benchmarks/gpu_check.sh measures both); `=declared`
compiles the blocks a model declares (diffusers' `_repeated_blocks`), for a UNet, whose whole-model
compile took nearly all of the 239 s our sd15 bench side needed on an H200
(benchmarks/gpu_diffusion_check.sh measures it).

On CUDA, compiled blocks recompute the cheapest of their activations in the backward pass instead of
keeping them (`ACTIVATION_BUDGET`: torch's activation memory budget, 0.9 of what the partitioner would
keep). On an H200 the default-run benchmark's blocks then held 39.9 KiB per token and layer for the
backward pass instead of 62.8, its peak fell from 24.6 to 17.1 GiB, and a steady step took 0.213 s
against 0.211 (benchmarks/results). `SPARK_TRAINER_ACTIVATION_BUDGET` overrides it (1: keep all).

`SPARK_TRAINER_COMPILE_BACKEND` picks another torch.compile backend (default inductor), e.g.
`aot_eager` to tell a model bug from an inductor bug.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from spark_trainer.errors import ConfigError, describe

ACTIVATION_BUDGET = 0.9


def activation_budget(device_type: str, blocks: bool) -> float | None:
    """The activation memory budget of a compile (None: torch's default, keep what the partitioner keeps):
    `ACTIVATION_BUDGET` for a transformer's blocks on CUDA, where it was measured; `SPARK_TRAINER_ACTIVATION_BUDGET`
    overrides it (a number in (0, 1]; 1 keeps everything)."""
    forced = os.environ.get("SPARK_TRAINER_ACTIVATION_BUDGET")
    if forced:
        try:
            value = float(forced)
        except ValueError:
            value = -1.0
        if not 0 < value <= 1:
            raise ConfigError(f"SPARK_TRAINER_ACTIVATION_BUDGET must be a number in (0, 1], got {forced!r}")
        return None if value == 1 else value
    return ACTIVATION_BUDGET if device_type == "cuda" and blocks else None


def wanted(setting: bool | str, device_type: str) -> bool:
    """Whether to compile: `auto` means on CUDA only, where the kernels can be built (`cannot_build`)."""
    if setting == "auto":
        return device_type == "cuda" and cannot_build() is None
    return bool(setting)


def cannot_build(*, frozen: bool | None = None, include_dir: str | None = None, compiler: str | None = None) -> str | None:
    """Why compiled kernels cannot be built on this machine, or None when they can.

    Inductor's and Triton's kernels are C/C++ built at run time against Python's headers: without
    `Python.h` or a C compiler every compile fails, and transformers' flex attention (itself compiled)
    with it. The packaged app never has the headers. `auto` then trains eagerly, with attention that
    needs no compiler, instead of failing over at the first step. (Arguments: for tests.)"""
    import shutil
    import sys
    import sysconfig

    if frozen if frozen is not None else getattr(sys, "frozen", False):
        return "the packaged app cannot build compiled kernels (no Python headers in it)"
    include = include_dir if include_dir is not None else sysconfig.get_paths().get("include", "")
    if not os.path.exists(os.path.join(include, "Python.h")):
        return f"Python's headers are not installed (no Python.h in {include}; the python3-dev package has them)"
    found = compiler if compiler is not None else (
        os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"))
    if not found:
        return "no C compiler found (cc, gcc or clang; or set CC)"
    return None


def is_compile_error(exc: BaseException) -> bool:
    """A failure of compilation rather than of the step: dynamo's own errors (a backend that fails to
    build is wrapped in BackendCompilerFailed), and errors from the compiled kernels' own machinery
    when they first run. Triton raises its own types there (OutOfResources is found at a kernel's
    first launch) or a RuntimeError "Triton Error [CUDA]: ...": neither is a dynamo error, so the run
    failed where eager would have trained. An out-of-memory error is torch's own and stays one."""
    from torch._dynamo.exc import TorchDynamoException

    if isinstance(exc, TorchDynamoException):
        return True
    for cls in type(exc).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if module.split(".")[0] == "triton" or module.startswith("torch._inductor"):
            return True
    return str(exc).startswith("Triton Error")


def short_reason(exc: BaseException) -> str:
    """One line saying why compiling failed. A backend's failure (dynamo's BackendCompilerFailed) puts
    the real error on its second line ("backend='inductor' raised:" then "TypeError: ..."): the event
    said only "raised:", which left a failure in the packaged app (and anywhere else) unexplained."""
    inner = getattr(exc, "inner_exception", None)
    if isinstance(inner, BaseException):
        backend = getattr(exc, "backend_name", "?")
        return f"{type(exc).__name__} in {backend}: {describe(inner).splitlines()[0]}"[:300]
    return describe(exc).splitlines()[0][:300]


def repeated_blocks(model: Any) -> list[Any]:
    """The blocks to compile one by one: the members of the model's largest list of modules of one class
    (a transformer's layers), where that list holds at least half the parameters; else [] (the whole
    model is compiled as one, e.g. a UNet, whose blocks differ in class and shape from level to level).

    Each block runs the same code on same-shaped inputs, so dynamo compiles it once and every layer
    reuses that graph (parameters are the graph's inputs): the warm-up no longer grows with the depth,
    and the evaluation's graphs (no gradients, a smaller last batch) are one block's graphs too."""
    import torch

    lists = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) > 1
             and len({type(b) for b in m}) == 1]
    if not lists:
        return []
    def size(module: Any) -> int:
        return sum(p.numel() for p in module.parameters())
    largest = max(lists, key=size)
    return list(largest) if 2 * size(largest) >= size(model) else []


def declared_blocks(model: Any) -> list[Any]:
    """The blocks a model names itself (diffusers' `_repeated_blocks`: a UNet's transformer blocks), its
    other modules (a UNet's convolutional blocks) left eager; compiled one by one with
    `SPARK_TRAINER_COMPILE_REGIONS=declared`, opt-in until a GPU shows what it costs a step."""
    names = {name for m in model.modules() for name in (getattr(m, "_repeated_blocks", None) or ())}
    return [m for m in model.modules() if type(m).__name__ in names]


@dataclass
class CompileState:
    """What happened to compilation in this run; `on_event` records a fallback (a run event)."""

    on_event: Any
    active: bool = False
    fell_back: bool = False
    step_seconds: list[float] = field(default_factory=list)
    warmup_reported: bool = False
    eval_seconds: float = 0.0  # compiling the evaluation's graphs before the first step (SideWork.warm_up_evaluation)
    regions: int = 0  # blocks compiled one by one (repeated_blocks); 0: the whole model as one
    budget: float | None = None  # the activation memory budget its graphs are partitioned with (activation_budget)

    def compile(self, model: Any, setting: bool | str, device_type: str, *, fixed_shapes: bool = False) -> Any:
        import torch

        torch.compiler.set_stance("default")  # a previous run in this process may have fallen back
        if not wanted(setting, device_type):
            return model
        backend = os.environ.get("SPARK_TRAINER_COMPILE_BACKEND", "inductor")
        options = {"backend": backend, "dynamic": False if fixed_shapes else None}
        regions = os.environ.get("SPARK_TRAINER_COMPILE_REGIONS", "1")
        blocks = declared_blocks(model) if regions == "declared" else []
        if blocks:  # a UNet's blocks differ in width from level to level: a static graph for each, not
            options["dynamic"] = False  # one whose weights' shapes are symbols
        elif regions != "0":
            blocks = repeated_blocks(model)
        budget = activation_budget(device_type, bool(blocks) and regions != "declared")  # a bad override fails the run
        try:
            if blocks:  # in place: the model object and its parameter names stay as they were
                # Each batch shape is two block graphs (the first block's input needs no gradient) and
                # the evaluation's one or two more: a recipe whose batches vary in shape would reach
                # dynamo's default limit of 8 per function, beyond which the blocks silently run eagerly.
                # (An auto_batch retry starts with the caches empty: jobs/oom_retry.py.)
                torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
                for block in blocks:
                    block.compile(**options)
                compiled = model
            else:
                compiled = torch.compile(model, **options)
        except Exception as exc:  # noqa: BLE001 - any failure to set up compilation means eager
            self.fall_back(short_reason(exc))
            return model
        self.active, self.regions, self.budget = True, len(blocks), budget
        return compiled

    def fall_back(self, reason: str) -> None:
        import torch

        torch.compiler.set_stance("force_eager")
        self.active, self.fell_back = False, True
        self.on_event(f"torch.compile failed ({reason}); training continues without compile")

    def run(self, fn: Any, *args: Any, reset: Any = None, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)`; on a compile error fall back to eager, call `reset()` (e.g. zero the
        gradients of the failed step) and run it again."""
        if not self.active:
            return fn(*args, **kwargs)
        try:
            if self.budget is None:
                return fn(*args, **kwargs)
            import torch._functorch.config as functorch_config

            # Graphs are partitioned when they are first run, inside these calls (forward and backward).
            with functorch_config.patch(activation_memory_budget=self.budget):
                return fn(*args, **kwargs)
        except Exception as exc:
            if not is_compile_error(exc):
                raise
            reason = short_reason(exc)  # only the text: the failed step's tensors must be freed
        self.fall_back(reason)
        if reset is not None:
            reset()
        return fn(*args, **kwargs)

    def warmup_seconds(self, seconds: float) -> float | None:
        """Feed each step's wall time; after the third step returns the warm-up once: the first
        step's time (which includes compiling) less a steady step's (the faster of steps 2-3), plus the
        evaluation's graphs compiled before the first step."""
        if not self.active or self.warmup_reported:
            return None
        self.step_seconds.append(seconds)
        if len(self.step_seconds) < 3:
            return None
        self.warmup_reported = True
        return max(0.0, self.step_seconds[0] - min(self.step_seconds[1:])) + self.eval_seconds
