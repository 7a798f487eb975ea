"""The pieces of the training loop that the engine and the benchmark share.

`train_step` runs one optimizer step over a list of micro-batches: losses are sums over the
recipe's loss units (target tokens, examples...), scaled so that the step's gradient is the mean
over every unit of every micro-batch on every process.
"""

from __future__ import annotations

import contextlib
import math
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepStats:
    loss: float
    grad_norm: float | None
    loss_units: int  # target tokens, examples...: what the loss is the mean over
    work: int  # the recipe's work units (real tokens, examples, images), for the work rate
    skipped: bool = False  # loss or gradient norm not finite: no optimizer update (divergence.py)
    # A skipped step's buffers (BatchNorm's running statistics) that its forward pass made not finite:
    # name -> layer type; "(on another process)" when only another process's are.
    bad_buffers: dict[str, str] = field(default_factory=dict)


def resolve_precision(requested: str, device_type: str) -> str:
    """auto: bf16 on GPUs that have it, fp16 on older GPUs, fp32 on the CPU."""
    if requested != "auto":
        return requested
    if device_type == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def lr_lambda(schedule: str, warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:  # `step` optimizer steps already taken
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def make_optimizer(params: list[Any], lr: float, weight_decay: float, device_type: str, *, sharded: bool = False) -> Any:
    import torch

    # Fused (one kernel for every tensor) on the GPU and the CPU alike: its on-device skip lets the engine
    # queue the next step before reading this one's numbers (`skips_on_device`). Not under FSDP on the
    # CPU (gloo), where it was never tried.
    fused = device_type == "cuda" or (device_type == "cpu" and not sharded)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused)


def on_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    """A CPU batch's tensors on `device`, copied without blocking (batches are pinned for a GPU, see
    `batches`): a blocking copy waits for the device to finish what is queued before the copy can go."""
    return {k: v.to(device, non_blocking=True) if hasattr(v, "to") else v for k, v in batch.items()}


def quiet_scheduler_order_warning() -> None:
    """`train_step` steps the scheduler after every step, a skipped one too (a non-finite loss, or fp16's
    loss scaler backing off from inf gradients while its first scale is too high). When the first step is
    skipped, torch warns "Detected call of `lr_scheduler.step()` before `optimizer.step()`", a misuse
    this loop never makes, into the run's log. Call once per run, before the first step: a filter set
    per step (catch_warnings) resets Python's warning registries, and a warning shown once would come
    back at every step."""
    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before", category=UserWarning)


def train_step(**step_args: Any) -> StepStats:
    """One optimizer step, read back at once (`launch_step`, then `LaunchedStep.settle`)."""
    launched = launch_step(**step_args)
    assert launched is not None  # only a step given `interrupt` is dropped
    return launched.settle()


@dataclass
class LaunchedStep:
    """A step queued on the device whose numbers are not read back yet. `settle` reads them in one
    copy (waiting for the device to finish the step). `deferred`: nothing in the step waited for the
    device, so the engine may queue the next step before settling this one and the device never
    idles while the host reports (see `launch_step`)."""

    numbers: Any  # [loss sum, loss units, gradient norm (nan: none), work units, skipped (0/1)], float64
    deferred: bool
    model: Any
    accelerator: Any
    watched_buffers: frozenset[str] | None
    has_norm: bool
    # On a GPU: `numbers` is a pinned host copy queued right after the step, and this event follows it.
    # Reading a device tensor would queue its copy behind every step queued since, and wait for those too.
    copied: Any = None
    settled: StepStats | None = None

    def settle(self) -> StepStats:
        if self.settled is None:
            if self.copied is not None:
                self.copied.synchronize()  # this step's numbers have landed; later steps go on
            total, units, norm, work, skipped = self.numbers.tolist()
            bad = _bad_buffers(self.model, self.accelerator, self.watched_buffers) if skipped else {}
            self.settled = StepStats(loss=total / max(units, 1.0), grad_norm=norm if self.has_norm else None,
                                     loss_units=int(units), work=int(work), skipped=bool(skipped), bad_buffers=bad)
        return self.settled


def skips_on_device(optimizer: Any, accelerator: Any) -> bool:
    """Whether a non-finite step can be skipped without reading anything back: a fused AdamW (every
    group) takes a `found_inf` tensor and leaves its weights, moments and step count as they were when
    it holds 1; fp16's gradient scaler decides skips itself, through accelerate, which reads its scale.
    Not with FSDP's sharded parameters (DTensors), which a plain `found_inf` tensor would be mixed with."""
    return read_back_reason(optimizer, accelerator) is None


def read_back_reason(optimizer: Any, accelerator: Any) -> str | None:
    """Why each step must be read back before the next is queued (`skips_on_device`), or None."""
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate's AcceleratedOptimizer wraps it
    if getattr(accelerator, "scaler", None) is not None:
        return "fp16's gradient scaler decides which steps to skip"
    if any(hasattr(p, "device_mesh") for g in inner.param_groups for p in g["params"]):
        return "FSDP's sharded parameters"
    if not all(g.get("fused") for g in inner.param_groups):
        return "the optimizer is not fused (the state of a checkpoint from before it was)"
    return None


def launch_step(
    *,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    accelerator: Any,
    loss_fn: Callable[[Any, dict[str, Any]], tuple[Any, Any]],
    loss_count: Callable[[dict[str, Any]], int],
    micro_batches: list[dict[str, Any]],
    work: int,
    params: list[Any],
    max_grad_norm: float | None,
    watched_buffers: frozenset[str] | None = None,
    interrupt: Callable[[], bool] | None = None,
    skip_on_device: bool | None = None,
) -> LaunchedStep | None:
    """One optimizer step. `loss_count(batch)` counts a CPU batch's loss units (before the forward
    pass, so that every micro-batch is scaled by the global count).

    A step whose loss or gradient norm is not finite is skipped (`skipped`): the optimizer leaves the
    weights and its state as they were, the gradients are dropped, the scheduler advances (see divergence.py). Both numbers are
    global (the loss summed over processes here; the norm by accelerate's clip_grad_norm_ over DDP's
    all-reduced gradients, or FSDP's sharded ones), so every process skips the same steps. With a
    gradient scaler (fp16) the scaler decides instead: it must see the overflow to lower its scale.
    With a fused AdamW the skip is decided on the device (`skips_on_device`; `skip_on_device` passes what
    the caller found once for its run, None finds it now) and the step is `deferred`; otherwise the host
    reads whether the numbers are finite before the optimizer steps.

    A skipped step's forward has still updated the running statistics (BatchNorm's) with its values:
    `bad_buffers` names those of `watched_buffers` (the floating buffers finite when training started,
    see `finite_buffers`; None: every floating buffer) that are not finite when the step is settled.

    `interrupt()` is asked before each micro-batch after the first: when it says so, the step is dropped
    (its gradients zeroed; nothing stepped) and None is returned, so a stop need not wait for the rest
    of a long step (one process only: the others would go on to the step's all-reduce)."""
    import torch

    # Copied without blocking, from pinned memory (from pageable memory the copy may wait): a blocking copy
    # makes the host wait for the GPU to drain its queue.
    counts = torch.tensor([sum(loss_count(b) for b in micro_batches), work], dtype=torch.float64)
    if accelerator.device.type == "cuda":
        counts = counts.pin_memory()
    counts = counts.to(accelerator.device, non_blocking=True)
    if accelerator.num_processes > 1:
        counts = accelerator.reduce(counts, "sum")
    n_global = counts[0].clamp(min=1)
    scale = accelerator.num_processes / n_global
    total = torch.zeros((), device=accelerator.device, dtype=torch.float32)
    for i, batch in enumerate(micro_batches):
        if i and interrupt is not None and interrupt():
            optimizer.zero_grad(set_to_none=True)
            return None
        last = i == len(micro_batches) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            loss_sum, _ = loss_fn(model, on_device(batch, accelerator.device))
            accelerator.backward(loss_sum * scale.to(loss_sum.dtype))
        total += loss_sum.detach().float()
    grad_norm = accelerator.clip_grad_norm_(params, max_grad_norm if max_grad_norm else float("inf"))
    if accelerator.num_processes > 1:  # before deciding: a loss non-finite on one process skips on all
        total = accelerator.reduce(total, "sum")
    if hasattr(grad_norm, "full_tensor"):  # FSDP: a DTensor norm; the whole value, on every process
        grad_norm = grad_norm.full_tensor()
    norm = torch.full((), math.nan, device=total.device) if grad_norm is None else torch.as_tensor(grad_norm, device=total.device)
    deferred = skips_on_device(optimizer, accelerator) if skip_on_device is None else skip_on_device
    if deferred:
        bad = ~torch.isfinite(total) | ~torch.isfinite(norm) if grad_norm is not None else ~torch.isfinite(total)
        inner = getattr(optimizer, "optimizer", optimizer)
        inner.found_inf = bad.to(torch.float32)
        try:
            optimizer.step()
        finally:
            del inner.found_inf
    else:
        skipped = getattr(accelerator, "scaler", None) is None and not _finite(total, grad_norm)
        if not skipped:
            optimizer.step()
        bad = torch.tensor(skipped, device=total.device)
    scheduler.step()  # a skipped step too (see quiet_scheduler_order_warning)
    optimizer.zero_grad(set_to_none=True)
    numbers = torch.stack([total.double(), counts[0], norm.double(), counts[1], bad.double()])
    copied = None
    if numbers.device.type == "cuda":
        host = torch.empty(numbers.shape, dtype=numbers.dtype, pin_memory=True)
        host.copy_(numbers, non_blocking=True)
        copied = torch.cuda.Event()
        copied.record()
        numbers = host
    return LaunchedStep(numbers, deferred, model, accelerator, watched_buffers, grad_norm is not None, copied)


def plain_name(name: str) -> str:
    """A parameter's or buffer's name without the wrappers' prefixes (DDP's `module.`, torch.compile's)."""
    return name.replace("_orig_mod.", "").removeprefix("module.")


def finite_buffers(model: Any) -> frozenset[str]:
    """The model's floating buffers that are all finite now (a mask buffer may hold -inf on purpose):
    the ones a skipped step or the final save must find still finite."""
    import torch

    return frozenset(plain_name(n) for n, b in model.named_buffers()
                     if b.is_floating_point() and bool(torch.isfinite(b).all()))


def _bad_buffers(model: Any, accelerator: Any, watched: frozenset[str] | None) -> dict[str, str]:
    """The watched floating buffers not finite after a skipped step's forward (which updated them in
    training mode before the step was judged), on any process. Only skipped steps pay for it (one
    read-back a buffer, and one all-reduce with several processes)."""
    import torch

    owners = dict(model.named_modules())
    bad = {}
    for name, buffer in model.named_buffers():
        if watched is not None and plain_name(name) not in watched:
            continue
        if buffer.is_floating_point() and not bool(torch.isfinite(buffer).all()):
            owner = owners.get(name.rpartition(".")[0])
            bad[plain_name(name)] = type(owner).__name__ if owner is not None else "?"
    if accelerator.num_processes > 1:  # every process must decide alike; DDP's buffers may differ by rank
        flag = accelerator.reduce(torch.tensor([1 if bad else 0], device=accelerator.device), "max")
        if int(flag) and not bad:
            bad = {"(on another process)": "?"}
    return bad


def _finite(total: Any, grad_norm: Any) -> bool:
    """Whether the step's loss sum and gradient norm are both finite (one read-back from the device)."""
    import torch

    finite = torch.isfinite(total)
    if grad_norm is not None:
        finite = finite & torch.isfinite(torch.as_tensor(grad_norm, device=total.device))
    return bool(finite)


def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class DataOrder:
    """Which rows each micro-batch holds: a fixed permutation per epoch, seeded by (seed, epoch).

    The position in the data is a pure function of the micro-batch index, so a resumed run picks
    up exactly where the stopped one left off.
    """

    def __init__(self, n_rows: int, batch_size: int, world: int, rank: int, seed: int) -> None:
        self.n_rows, self.batch_size, self.world, self.rank, self.seed = n_rows, batch_size, world, rank, seed
        self.global_batch = batch_size * world
        self.per_epoch = max(1, math.ceil(n_rows / self.global_batch))
        self._cache: tuple[int, list[int]] | None = None

    def _perm(self, epoch: int) -> list[int]:
        import torch

        if self._cache is None or self._cache[0] != epoch:
            gen = torch.Generator().manual_seed(self.seed + epoch)
            self._cache = (epoch, torch.randperm(self.n_rows, generator=gen).tolist())
        return self._cache[1]

    def epoch_of(self, micro_index: int) -> float:
        return micro_index / self.per_epoch

    def indices(self, micro_index: int) -> list[int]:
        epoch, k = divmod(micro_index, self.per_epoch)
        perm = self._perm(epoch)
        start = k * self.global_batch + self.rank * self.batch_size
        # The last batch of an epoch wraps around so every process gets a full micro-batch.
        return [perm[(start + j) % self.n_rows] for j in range(self.batch_size)]
