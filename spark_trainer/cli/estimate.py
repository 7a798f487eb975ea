"""`estimate RUN_FILE`: predicted peak GPU memory of a run file, and a micro-batch that fits.

The number is `spark_trainer.estimate.estimate_for_config`, the one the experiment setup form shows.
The suggestion is the largest micro-batch (up to the file's effective batch) whose estimate fits
in 90% of the free memory of the GPU(s) the run file asks for (or of `--free-gib`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, human_bytes
from spark_trainer.errors import BadInput


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("estimate", parents=[common],
                            help="predicted peak GPU memory of a run file, and a micro-batch that fits",
                            description="Estimate the peak GPU memory per training process of a run file (the "
                            "number the experiment setup form shows) and suggest the largest micro-batch whose "
                            "estimate fits in 90% of the chosen GPU's free memory.")
    parser.add_argument("config", metavar="RUN_FILE", help="the run file (as for `spark-trainer train`)")
    parser.add_argument("--gpus", help="override the file's gpus: auto | cpu | cpu:N | GPU ids like 0 or 0,1 | count:N")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value, e.g. train.batch_size=4 (repeatable)")
    parser.add_argument("--free-gib", type=float, default=None, metavar="GIB",
                        help="plan for this much free GPU memory instead of asking the GPUs (another machine)")
    parser.set_defaults(handler=cmd_estimate)


def _chosen_gpus(request_text: str) -> tuple[list[Any], str]:
    """The GPUs a run with this `gpus:` request would use, and a note when there are none."""
    from spark_trainer.gpu import list_gpus, nvml_status
    from spark_trainer.jobs.gpus import parse_request, planned_gpus

    if parse_request(request_text).is_cpu:
        return [], f"gpus: {request_text} trains on the CPU; pass --free-gib to plan for a GPU"
    gpus = list_gpus()
    if not gpus:
        return [], f"no NVIDIA GPU found ({nvml_status()}); pass --free-gib to plan for a GPU"
    return planned_gpus(request_text, gpus), ""


def cmd_estimate(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer import estimate
    from spark_trainer.config import apply_overrides, validate_config
    from spark_trainer.config.yaml_io import load_yaml
    from spark_trainer.jobs.gpu_request import gpus_for
    from spark_trainer.models.loading import resolve_base_model

    data, node = load_yaml(args.config)
    config = validate_config(apply_overrides(data, args.set), args.config, node, args.set, typed=args.gpus is None)
    home = ctx.home
    folder = resolve_base_model(config.base_model, search_dirs=(Path(args.config).resolve().parent, home.root,
                                                                home.models_dir))
    mapping = config.model_dump(mode="json")
    requested = args.gpus or gpus_for(ctx.store, config)  # what `train` would give the run
    found = estimate.estimate_for_config(mapping, folder)
    calibration = estimate.current_calibration()
    if args.free_gib is not None:
        if args.free_gib <= 0:
            raise BadInput(f"--free-gib must be greater than 0, got {args.free_gib}")
        gpus, free, note = [], int(args.free_gib * estimate.GIB), ""
    else:
        gpus, note = _chosen_gpus(requested)
        free = min(g.memory_free for g in gpus) if gpus else None
    plan = estimate.suggest_micro_batch(mapping, folder, free) if free is not None else None
    result = {
        "run_file": str(args.config), "base_model": str(Path(folder).resolve()), "estimate_bytes": found.total_bytes,
        "parts": found.parts, "trainable_params": found.trainable_params,
        "calibration": {"activation_scale": calibration.activation_scale,
                        "overhead_bytes": calibration.overhead_bytes,
                        "measured_points": calibration.measured_points, "source": calibration.source},
        "gpus": [{"index": g.index, "name": g.name, "memory_free": g.memory_free} for g in gpus],
        "free_bytes": free, "budget_bytes": plan.budget_bytes if plan else None,
        "suggestion": None if plan is None or plan.micro_batch is None else {
            "micro_batch": plan.micro_batch, "grad_accum": plan.grad_accum, "effective_batch": plan.effective_batch,
            "estimate_bytes": plan.estimate.total_bytes},
        "note": note or (_no_fit(plan) if plan is not None and plan.micro_batch is None else ""),
        "sharding": _sharding(mapping, folder, requested, gpus, free),
    }
    return Result(result, lambda: _text(result, config, found.shown_parts()))


def _sharding(mapping: dict[str, Any], folder: Path, request_text: str, gpus: list[Any], free: int | None) -> str:
    from spark_trainer.estimate_sharding import sharding_note
    from spark_trainer.jobs.gpus import parse_request
    from spark_trainer.jobs.relocate import processes_for

    request = parse_request(request_text)
    processes = len(gpus) if gpus else (0 if request.is_cpu else processes_for(request))
    return sharding_note(mapping, folder, processes, free)


def _no_fit(plan: Any) -> str:
    return (f"even a micro-batch of 1 needs more than 90% of the free memory ({human_bytes(plan.budget_bytes)}); "
            "set train.gradient_checkpointing: true, use recipe_config.method: qlora, or shorten recipe_config.seq_len")


def _text(result: dict[str, Any], config: Any, shown_parts: list[tuple[str, int]]) -> str:
    parts = ", ".join(f"{k} {human_bytes(v)}" for k, v in shown_parts)
    seq_len = config.recipe_config.get("seq_len")  # token recipes only
    shape = f"micro-batch {config.train.batch_size}" + (f", seq_len {seq_len}" if seq_len else "")
    rows = [("run file", result["run_file"]), ("base model", result["base_model"]),
            ("estimated peak", f"{human_bytes(result['estimate_bytes'])} per GPU at {shape} ({parts})"),
            ("calibration", result["calibration"]["source"])]
    if result["gpus"]:
        rows.append(("GPU", ", ".join(f"{g['index']}: {g['name']} {human_bytes(g['memory_free'])} free"
                                      for g in result["gpus"])))
    if result["free_bytes"] is not None:
        rows.append(("budget", f"90% of {human_bytes(result['free_bytes'])} free = {human_bytes(result['budget_bytes'])}"))
    s = result["suggestion"]
    if s:
        rows.append(("suggested", f"train.batch_size {s['micro_batch']}, train.grad_accum {s['grad_accum']} "
                                  f"(effective batch {s['micro_batch'] * s['grad_accum']}), "
                                  f"~{human_bytes(s['estimate_bytes'])}"))
    if result["sharding"]:
        rows.append(("sharding", result["sharding"]))
    if result["note"]:
        rows.append(("note", result["note"]))
    return fields(rows)
