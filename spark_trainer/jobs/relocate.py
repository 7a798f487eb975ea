"""Resume a stopped run on other devices: another GPU set, or another number of processes.

`spark-trainer run resume RUN --gpus SPEC` (and `control.resume(..., gpus=SPEC)`): the request is
checked against this machine and against the run's last checkpoint, then recorded as the run's
requested GPUs and in its frozen `config.yaml`. Checkpoints hold full, unsharded state (see
spark_trainer.training.sharding), so any process count can load them; the engine keeps the
checkpoint's rows per optimizer step by changing grad_accum, so the loss curve continues exactly.
"""

from __future__ import annotations

from pathlib import Path

from spark_trainer.config import save_config
from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.store.entities import Run


def processes_for(request: gpu_alloc.GpuRequest) -> int:
    """How many processes a request trains with (auto: one)."""
    if request.is_cpu:
        return request.cpu_processes
    return len(request.ids) if request.ids is not None else max(1, request.count)


def move_run(run: Run, gpus: str, machine: list[int] | None = None) -> str:
    """Point `run` at the devices `gpus` names; returns the request text to store.

    Raises:
        BadInput: the request is malformed, this machine cannot satisfy it, or the checkpoint's
            global batch cannot be kept on that many processes.
    """
    from spark_trainer.jobs.gpu_request import check_device_fit, this_machine
    from spark_trainer.jobs.submit import CONFIG_NAME, frozen_config
    from spark_trainer.training.checkpoints import latest_checkpoint, read_state
    from spark_trainer.training.sharding import resume_grad_accum

    request = gpu_alloc.parse_request(gpus, typed=True)
    machine = this_machine(machine)  # asked once, for the fit here and the CPU check below
    gpu_alloc.check_fits(request, machine)
    run_dir = Path(run.run_dir)
    config = frozen_config(run_dir)
    check_device_fit([config], request, machine)  # a flex-attention run moved to the CPU: refused here
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        t = config.train
        try:
            resume_grad_accum(read_state(checkpoint), t.batch_size, t.grad_accum, processes_for(request))
        except ConfigError as exc:
            raise BadInput(f"--gpus {gpus}: {exc}") from None
    config.gpus = request.text
    save_config(config, run_dir / CONFIG_NAME)
    return request.text
