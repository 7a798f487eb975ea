"""The worker role on a cluster node: `python -m spark_trainer cluster-worker JOB_DIR`, one per rank.

The scheduler (torchrun, accelerate launch, or srun through `slurm_rank.sh`) sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT; accelerate reads them as it does for a local multi-process
run (jobs/ranks.py). Every rank trains; rank 0 alone writes (the engine reports and saves only on
the main process), into the job folder's `run/` in a local run's layout, through JobFolderReporter.
SIGTERM (scancel, or Ctrl-C on a launcher) checkpoints and stops, as for a local worker: a pause.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from spark_trainer.cluster import layout
from spark_trainer.cluster.layout import JobSpec
from spark_trainer.config import load_config
from spark_trainer.errors import BadInput
from spark_trainer.jobs.finish import Finish, engine_failure, outcome_finish, start_up_stop_finish
from spark_trainer.jobs.oom_retry import SilentReporter, oom_message
from spark_trainer.jobs.worker_process import HEARTBEAT_S, install_stop_handler, say
from spark_trainer.store.entities import RunStatus
from spark_trainer.training.reporting import Commands, StopRequested


def _heartbeat(reporter: object, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            reporter.beat()  # type: ignore[attr-defined]
        except OSError as exc:  # a slow shared file system must not kill training; the next beat retries
            say(f"heartbeat not written: {exc}")


def run_job_rank(job_dir: Path) -> int:
    """Train this rank's share of the job; rank 0 records everything. Exit 0 only if completed."""
    job_dir = Path(job_dir).resolve()
    spec = JobSpec.read(job_dir)
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != spec.world_size:
        # Processes that do not form the planned group would each train alone and all write run/ as rank 0.
        raise BadInput(f"rank {rank}: WORLD_SIZE is {world} but the job was exported for {spec.world_size} "
                       f"processes ({spec.nodes} nodes x {spec.procs_per_node}); start it with its launch script")
    if spec.device == "cpu":
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    else:
        _check_gpu(spec, rank)
    run_dir = job_dir / layout.RUN_DIR
    (run_dir / layout.LOGS_DIR).mkdir(parents=True, exist_ok=True)
    commands = Commands()
    install_stop_handler(run_dir, commands, watch_file=False)  # stopped by SIGTERM (scancel)
    from spark_trainer.cluster.reporter import JobFolderReporter

    reporter = JobFolderReporter(run_dir, world_size=world) if rank == 0 else SilentReporter()
    beat_stop = threading.Event()
    if rank == 0:
        reporter.transition("running", f"job started: rank 0 on {reporter.status['host']} (pid {os.getpid()}), "
                            f"{world} processes")
        threading.Thread(target=_heartbeat, args=(reporter, beat_stop), daemon=True, name="heartbeat").start()
    try:
        finish = _train(job_dir, spec, run_dir, reporter, commands, rank)
    finally:
        beat_stop.set()
    if rank == 0:
        reporter.transition(finish.status.value, finish.reason, error=finish.error,
                            **({"step": finish.step} if finish.step is not None else {}))
    say(f"rank {rank}: {finish.status.value}: {finish.reason}")
    return 0 if finish.status == RunStatus.COMPLETED else 1


def _check_gpu(spec: JobSpec, rank: int) -> None:
    """A GPU job on a node where torch sees no GPU stops here, before anything is written: it would
    otherwise train on the CPU (torch built without CUDA, no driver), many times slower and unsaid.
    Fewer GPUs than processes is not refused: accelerate gives each process GPU LOCAL_RANK modulo the
    GPUs it sees, which is right for a scheduler binding one GPU per task."""
    import torch

    if not torch.cuda.is_available():
        raise BadInput(f"rank {rank} on {socket.gethostname()}: the job was exported for GPUs, but torch "
                       f"{torch.__version__} sees no CUDA GPU there; install torch for the node's CUDA in "
                       "SPARK_TRAINER_PYTHON's environment, or export the job with gpus: cpu to train on CPUs")


def _train(job_dir: Path, spec: JobSpec, run_dir: Path, reporter: object, commands: Commands, rank: int) -> Finish:
    from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
    from spark_trainer.training.engine import run_training
    from spark_trainer.training.oom import OutOfMemory

    try:
        config = load_config(job_dir / layout.CONFIG_FILE)
        config.base_model = str(spec.resolve(job_dir, spec.model_path))
        checkpoint = latest_checkpoint(run_dir)
        if checkpoint is not None and rank == 0:
            reporter.resumed_from(checkpoint_step(checkpoint))  # type: ignore[attr-defined]
            say(f"resuming from {checkpoint.name}")
        outcome = run_training(config, data_path=spec.resolve(job_dir, spec.data_path), run_dir=run_dir,
                               reporter=reporter, commands=commands, resume_from=checkpoint)  # type: ignore[arg-type]
        return outcome_finish(outcome, commands)
    except StopRequested as exc:  # before the first step: the job is paused (or cancelled), nothing to save
        return start_up_stop_finish(exc.kind, exc.phase)
    except OutOfMemory as exc:
        return Finish(RunStatus.FAILED, "out of memory", error=oom_message(exc.micro_batch, exc.grad_accum))
    except Exception as exc:  # noqa: BLE001 - any engine failure must end as a failed run, with its message
        return engine_failure(exc)
