"""Which GPUs a submitted run asks for: --gpus, the run file's `gpus:`, else the default_gpus setting,
checked against this machine."""

from __future__ import annotations

from spark_trainer.config import ExperimentConfig
from spark_trainer.errors import BadInput
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.store.store import Store


def request_for(store: Store, config: ExperimentConfig, gpus: str | None, *, stored: bool = False) -> gpu_alloc.GpuRequest:
    """--gpus, else `gpus_for`, parsed. What the user types now (--gpus, a run file's `gpus:`) is read
    strictly; a `stored` config's `gpus:` and the `default_gpus` setting as they were accepted (see
    `gpus.parse_request`)."""
    if gpus:
        return gpu_alloc.parse_request(gpus, typed=True)
    return gpu_alloc.parse_request(gpus_for(store, config), typed=not stored and "gpus" in config.model_fields_set)


def this_machine(machine: list[int] | None) -> list[int]:
    """`machine` (a test's, or a caller's that asked already), else this machine's GPU ids from NVML."""
    from spark_trainer.jobs.scheduler import machine_gpus

    return machine_gpus() if machine is None else machine


def fitting_request(store: Store, config: ExperimentConfig, gpus: str | None, machine: list[int] | None, *,
                    stored: bool = False) -> gpu_alloc.GpuRequest:
    """`request_for`, refused when this machine can never satisfy it; one taken from the default_gpus
    setting says so, as neither the run file nor --gpus names it."""
    request = request_for(store, config, gpus, stored=stored)
    try:
        gpu_alloc.check_fits(request, this_machine(machine))
    except BadInput as exc:
        if gpus or "gpus" in config.model_fields_set:
            raise
        raise BadInput(f"{exc}; it is the default_gpus setting (Settings' Default GPUs), as the run names no gpus: "
                       "set gpus: in the run file, give --gpus, or change it with `spark-trainer settings "
                       "default_gpus auto`") from None
    return request


def check_device_fit(configs: list[ExperimentConfig], request: gpu_alloc.GpuRequest,
                     machine: list[int] | None) -> None:
    """Refuse, before anything is queued, settings a recipe cannot train with on the CPU, for a run that
    will train there: `gpus: cpu`, or auto on a machine without GPUs (`gpus.place` gives it none)."""
    from spark_trainer.recipes import get_recipe

    if request.is_cpu or (request.auto and not this_machine(machine)):
        for config in configs:
            get_recipe(config.recipe).check_cpu_fit(config.recipe_config)


def gpus_for(store: Store, config: ExperimentConfig) -> str:
    """The run file's `gpus:`; where it does not say, the `default_gpus` setting (Settings' Default GPUs)."""
    if "gpus" in config.model_fields_set:
        return config.gpus
    from spark_trainer.store import settings

    return settings.default_gpus(store)
