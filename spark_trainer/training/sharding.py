"""FSDP for full fine-tuning across several processes, and checkpoints any process count can resume.

`train.sharding` (auto | none | fsdp) picks how a multi-process run holds the model:

- none: every process keeps the whole model, its gradients and AdamW state (DDP).
- fsdp: accelerate's FSDP plugin, version 2 (`torch.distributed.fsdp.fully_shard`): parameters,
  gradients and optimizer state are split over the processes, one decoder layer is gathered at a time.
  Full fine-tuning only (every parameter trains); with one process it changes nothing and is skipped.
- auto: fsdp when a full fine-tune's estimated peak (spark_trainer.estimate, what `spark-trainer
  estimate` and the setup form show) is over 90% of one GPU's free memory and the run has several
  GPUs; else none. On the CPU, auto is none (no GPU memory to exceed).

Checkpoints do not depend on the process count: `trainable.safetensors` holds the full, unsharded
trainable weights under the model's own parameter names (as a non-sharded run writes them), and an
FSDP run's `optimizer.pt` is the full optimizer state keyed by parameter name
(`torch.distributed.checkpoint.state_dict`, `full_state_dict=True`). Any run, sharded or not, on any
number of processes, loads either form: a name-keyed state converts to the id-keyed form
`Optimizer.load_state_dict` takes, and back. A resume on another process count keeps the global batch
(rows per optimizer step, recorded in state.json as `global_batch`) by changing `grad_accum`
(`resume_grad_accum`), so the data order, and so the loss curve, continue exactly.

On the CPU accelerate ignores the FSDP plugin (it only shards on accelerators), so `enable_fsdp` sets
accelerate's state to FSDP itself after the Accelerator exists; torch's FSDP2 works over gloo on the
CPU. Mixed precision stays off there (the CPU runs fp32). torch.compile is not combined with FSDP
(the engine turns it off with a log line): the compile would have to come after sharding, per layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.training import steps

FIT_FRACTION = 0.9  # as spark_trainer.estimate: a run "fits" when its estimate is within 90% of free memory


@dataclass(frozen=True)
class ShardingPlan:
    fsdp: bool
    reason: str  # one line for the run's log


def full_fine_tuning(config: ExperimentConfig) -> bool:
    """Whether the recipe trains every weight (recipe_config.method full)."""
    return str(config.recipe_config.get("method", "")).lower() == "full"


def decide(config: ExperimentConfig, *, world: int, device_type: str, estimate_bytes: int | None,
           free_bytes: int | None) -> ShardingPlan:
    """How this run shards, from `train.sharding`, the process count and (for auto) the memory estimate.

    Raises:
        ConfigError: sharding fsdp asked for a run that is not a full fine-tune.
    """
    wanted = config.train.sharding
    if wanted == "none":
        return ShardingPlan(False, "sharding none: every process holds the whole model")
    if wanted == "fsdp":
        if not full_fine_tuning(config):
            raise ConfigError("train.sharding fsdp is for full fine-tuning; set recipe_config.method: full "
                              f"(it is {config.recipe_config.get('method', 'the recipe default')!r}) or "
                              "train.sharding: auto")
        if world < 2:
            return ShardingPlan(False, "sharding fsdp asked for, but the run has one process: not sharded")
        return ShardingPlan(True, f"sharding fsdp over {world} processes")
    if world < 2 or device_type != "cuda" or not full_fine_tuning(config):
        return ShardingPlan(False, "sharding auto: not sharded (FSDP needs a full fine-tune on several GPUs)")
    if estimate_bytes is None or free_bytes is None:
        return ShardingPlan(False, "sharding auto: not sharded (no memory estimate for this model)")
    gib = 1024**3
    if estimate_bytes > FIT_FRACTION * free_bytes:
        return ShardingPlan(True, f"sharding auto: FSDP over {world} GPUs (estimated {estimate_bytes / gib:.1f} GiB "
                                  f"per unsharded process, {free_bytes / gib:.1f} GiB free on one GPU)")
    return ShardingPlan(False, f"sharding auto: not sharded (estimated {estimate_bytes / gib:.1f} GiB fits in "
                               f"{free_bytes / gib:.1f} GiB free)")


def estimate_for_run(config: ExperimentConfig, model_dir: Path | None) -> int | None:
    """The unsharded per-process peak estimate of this run, or None when its model cannot be estimated."""
    from spark_trainer.estimate import estimate_for_config

    if model_dir is None:
        return None
    try:
        return estimate_for_config(config.model_dump(mode="json"), model_dir).total_bytes
    except BadInput:
        return None


def plugin() -> Any:
    """accelerate's FSDP2 plugin: each decoder layer (the model's `_no_split_modules`) is one shard unit."""
    from accelerate.utils import FullyShardedDataParallelPlugin

    return FullyShardedDataParallelPlugin(fsdp_version=2, reshard_after_forward=True,
                                          auto_wrap_policy="transformer_based_wrap",
                                          state_dict_type="FULL_STATE_DICT", cpu_ram_efficient_loading=False)


def enable_fsdp(accelerator: Any, fsdp_plugin: Any) -> None:
    """Make a CPU (gloo) accelerator shard with `fsdp_plugin`: accelerate keeps MULTI_CPU there and
    would silently run DDP. Called before `prepare`."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type != DistributedType.FSDP:
        accelerator.state.distributed_type = DistributedType.FSDP
        accelerator.state.fsdp_plugin = fsdp_plugin


def silence_view_warning() -> None:
    """FSDP2 warns when a sharded module returns a view, because an in-place op on it would skip a
    hook. Ours do by design (the output head returns the final hidden states unchanged for the
    chunked loss, and the model returns them) and nothing modifies them in place: the warning would
    only fill every run's log."""
    import warnings

    warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module .* returned a view tensor")


def check_all_trainable(model: Any) -> None:
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    if frozen:
        raise ConfigError(f"train.sharding fsdp needs every weight to train, but {len(frozen)} are frozen "
                          f"(e.g. {frozen[0]}); use recipe_config.method: full or train.sharding: none")


# ---- checkpoints ---------------------------------------------------------------------------------

def _options(**extra: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True, **extra)


def gather_weights(model: Any) -> dict[str, Any]:
    """The full trainable weights of a sharded model, on the CPU. Every process must call it (it
    gathers); only the main process gets the tensors, the others an empty dict."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    weights = get_model_state_dict(model, options=_options())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {n: t.contiguous() for n, t in weights.items() if n in trainable}


def gather_optimizer(model: Any, optimizer: Any) -> dict[str, Any]:
    """The full optimizer state of a sharded model keyed by parameter name, as `gather_weights`."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, _raw(optimizer), options=_options())


def load_full_state(model: Any, optimizer: Any, weights: dict[str, Any], optim: dict[str, Any],
                    names: list[str], is_main: bool) -> None:
    """Load full (unsharded) weights and optimizer state into a sharded model: the main process
    passes them, every process calls this, and each keeps its own shard."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    options = _options(broadcast_from_rank0=True, strict=False)
    set_model_state_dict(model, weights if is_main else {}, options=options)
    optim = optimizer_by_name(optim, names) if is_main else {}
    set_optimizer_state_dict(model, _raw(optimizer), optim, options=options)


def _raw(optimizer: Any) -> Any:
    return getattr(optimizer, "optimizer", optimizer)  # accelerate's AcceleratedOptimizer wraps the torch one


def is_by_name(optim: dict[str, Any]) -> bool:
    groups = optim.get("param_groups") or []
    return any(isinstance(p, str) for g in groups for p in g.get("params", []))


def optimizer_by_index(optim: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """A name-keyed optimizer state as `Optimizer.load_state_dict` takes it, the parameters numbered
    in `names` order (the order the engine builds its optimizer in)."""
    if not is_by_name(optim):
        return optim
    index = {name: i for i, name in enumerate(names)}
    missing = [p for g in optim["param_groups"] for p in g["params"] if p not in index]
    if missing:
        raise BadInput(f"optimizer state names {len(missing)} parameters this model does not train "
                       f"(e.g. {missing[0]})")
    groups = [{**g, "params": [index[p] for p in g["params"]]} for g in optim["param_groups"]]
    return {"state": {index[n]: s for n, s in optim["state"].items()}, "param_groups": groups}


def optimizer_by_name(optim: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The reverse of `optimizer_by_index`: an id-keyed state (a non-sharded run's) keyed by name."""
    if is_by_name(optim):
        return optim
    if len(names) != sum(len(g["params"]) for g in optim["param_groups"]):
        raise BadInput(f"optimizer state holds {sum(len(g['params']) for g in optim['param_groups'])} "
                       f"parameters, the model trains {len(names)}")
    groups = [{**g, "params": [names[i] for i in g["params"]]} for g in optim["param_groups"]]
    return {"state": {names[i]: s for i, s in optim["state"].items()}, "param_groups": groups}


# ---- a resume on another process count ------------------------------------------------------------

def global_batch(batch_size: int, grad_accum: int, world: int) -> int:
    """Rows per optimizer step over all processes."""
    return batch_size * grad_accum * world


def resume_grad_accum(state: dict[str, Any], batch_size: int, grad_accum: int, world: int) -> int:
    """The grad_accum that keeps a checkpoint's global batch with `world` processes of `batch_size`.

    Raises:
        ConfigError: the global batch does not split evenly over this many processes.
    """
    saved_world = int(state.get("world_size") or world)
    wanted = int(state.get("global_batch") or global_batch(batch_size, grad_accum, saved_world))
    if wanted == global_batch(batch_size, grad_accum, world):
        return grad_accum
    per_step = batch_size * world
    if wanted % per_step:
        fits = [str(n) for n in range(1, 65) if wanted % (batch_size * n) == 0]
        on = f"{', '.join(fits)} process{'' if fits == ['1'] else 'es'}" if fits else "another number of processes"
        raise ConfigError(f"the checkpoint trained on {wanted} rows per step ({saved_world} "
                          f"process{'' if saved_world == 1 else 'es'}); {world} processes of train.batch_size "
                          f"{batch_size} cannot keep that exactly: resume on {on}")
    return wanted // per_step


def plan_for_run(config: ExperimentConfig, *, cpu: bool, model_dir: Path | None) -> ShardingPlan:
    """`decide` before the Accelerator exists (its FSDP plugin is a constructor argument). Every
    process must decide alike, so auto compares against the least free memory over the processes."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    device_type = "cpu" if cpu else "cuda"
    estimate = free = None
    if config.train.sharding == "auto" and world > 1 and not cpu and full_fine_tuning(config):
        estimate, free = estimate_for_run(config, model_dir), _least_free_gpu_bytes()
    return decide(config, world=world, device_type=device_type, estimate_bytes=estimate, free_bytes=free)


def _least_free_gpu_bytes() -> int:
    import torch
    import torch.distributed as dist
    from accelerate.state import PartialState

    state = PartialState()  # starts the process group; the Accelerator made next reuses it
    free = torch.tensor([torch.cuda.mem_get_info(state.device)[0]], dtype=torch.int64, device=state.device)
    if dist.is_initialized():
        dist.all_reduce(free, op=dist.ReduceOp.MIN)
    return int(free.item())


def keep_global_batch(config: ExperimentConfig, state: dict[str, Any], world: int,
                      log: Callable[[str], None]) -> ExperimentConfig:
    """A resume on another process count: the grad_accum that keeps the checkpoint's rows per step."""
    t = config.train
    accum = resume_grad_accum(state, t.batch_size, t.grad_accum, world)
    if accum == t.grad_accum:
        return config
    log(f"resuming on {world} process{'es' if world != 1 else ''} (the checkpoint was written by "
        f"{state.get('world_size')}): train.grad_accum {t.grad_accum} -> {accum} keeps "
        f"{global_batch(t.batch_size, accum, world)} rows per step")
    config = config.model_copy(deep=True)
    config.train.grad_accum = accum
    return config


def restore_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any, names: list[str], *, sharded: bool,
                       is_main: bool) -> None:
    """Load a checkpoint written by any run of this model, sharded or not, on any process count."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(path / "trainable.safetensors")) if is_main or not sharded else {}
    if (is_main or not sharded) and set(weights) != set(names):
        raise BadInput(f"checkpoint {path} does not match this model: it holds {len(weights)} trainable tensors, "
                       f"the model has {len(names)}")
    optim = (torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
             if is_main or not sharded else {})
    if sharded:
        load_full_state(model, optimizer, weights, optim, names, is_main)
    else:
        named = {n: p for n, p in model.named_parameters() if p.requires_grad}
        with torch.no_grad():
            for name, param in named.items():
                param.copy_(weights[name])
        optimizer.load_state_dict(optimizer_by_index(optim, names))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    steps.set_rng_state(torch.load(path / "rng.pt", weights_only=False))
