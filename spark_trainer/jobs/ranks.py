"""A distributed run's processes: the launcher starts one rank process per device (or per `cpu:N`
process) through torch.distributed (accelerate reads RANK/WORLD_SIZE/MASTER_ADDR) and decides how the
run ended; every rank trains, rank 0 alone reports and writes the outcome for the launcher.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from spark_trainer.errors import DiskFull, SparkError
from spark_trainer.jobs import control, portable, process, worker_log
from spark_trainer.jobs.finish import Finish, disk_full_finish, engine_failure, outcome_finish, start_up_stop_finish
from spark_trainer.jobs.lean_imports import keep_out_unneeded
from spark_trainer.jobs.oom_retry import OperationFailedOOM, halved, oom_message, train
from spark_trainer.jobs.submit import frozen_config
from spark_trainer.jobs.worker_process import HEARTBEAT_S, install_stop_handler, open_store, say
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.divergence import Diverged
from spark_trainer.training.reporting import Commands, StopRequested

OUTCOME_NAME = "outcome.json"
OOM_PREFIX = "oom-rank"  # oom-rank<N>.json: rank N ran out of memory (for the launcher to decide)
OOM_EXIT = 3
START_UP_STOP_EXIT = 4  # a rank stopped by request before training: the launcher stops the others at once
START_UP_STOP_GRACE_S = 5.0  # ranks left blocked in a rendezvous or collective with a stopped rank then die


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_ranks(run_id: int, world: int, gpus: list[int]) -> list[subprocess.Popen]:
    port = str(_free_port())
    procs = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                   LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        if not gpus:
            env["ACCELERATE_USE_CPU"] = "true"
            env.setdefault("OMP_NUM_THREADS", "1")
        procs.append(subprocess.Popen(process.worker_command(run_id, "--rank", str(rank)), env=env,
                                      stdin=subprocess.DEVNULL, **portable.spawn_options(detached=False)))
    return procs


def _wait_ranks(procs: list[subprocess.Popen], grace_s: float = 30.0) -> list[int]:
    """Wait for every rank; once one has failed, the others (stuck waiting for it in a collective)
    get `grace_s` to finish, then are killed; once one has stopped during start-up (by request),
    START_UP_STOP_GRACE_S."""
    import time

    failed_at, grace = None, grace_s
    while any(p.poll() is None for p in procs):
        if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
            failed_at = time.monotonic()
            if any(p.returncode == START_UP_STOP_EXIT for p in procs):
                grace = min(grace_s, START_UP_STOP_GRACE_S)
        if failed_at is not None and time.monotonic() - failed_at > grace:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.2)
    return [p.wait() for p in procs]


def _rank_ooms(run_dir: Path) -> list[dict]:
    found = []
    for path in sorted(run_dir.glob(f"{OOM_PREFIX}*.json")):
        found.append(json.loads(path.read_text()))
        path.unlink()
    return found


def launch_ranks(store: Store, run_id: int, run_dir: Path, world: int, gpus: list[int],
                  commands: Commands) -> Finish:
    """One process per device; they share this worker's process group (on Windows: are in its process
    tree), so a kill reaches them.

    An out-of-memory on any rank stops them all; with `train.auto_batch` every rank then restarts
    from the last checkpoint with half the micro-batch (one decision, so no rank waits forever).
    A stop requested before the ranks trained a step ends them all within seconds.
    """
    (run_dir / OUTCOME_NAME).unlink(missing_ok=True)
    _rank_ooms(run_dir)
    commands.check_stop()  # requested while this process prepared the run: no rank is started
    commands.started()  # from here the ranks take a stop (the SIGTERM reaches them too); this process waits
    while True:
        codes = _wait_ranks(_start_ranks(run_id, world, gpus))
        say(f"rank exit codes: {codes}")
        if START_UP_STOP_EXIT in codes:
            return _ranks_stopped_at_start_up(run_dir, commands)
        ooms = _rank_ooms(run_dir)
        if not ooms:
            break
        first = ooms[0]
        config = frozen_config(run_dir)
        if not config.train.auto_batch or first["micro_batch"] <= 1:
            message = first["message"] if first.get("where") else oom_message(first["micro_batch"], first["grad_accum"])
            return Finish(RunStatus.FAILED, "out of memory", error=message)
        halved(store, run_id, config, run_dir, first["micro_batch"], first["grad_accum"],
               first.get("where") or "a training step", report=True)
    outcome_file = run_dir / OUTCOME_NAME
    data = json.loads(outcome_file.read_text()) if outcome_file.exists() else None
    # Rank 0's own account of a failure (a full disk) explains the other ranks' exits too.
    if data is None or (any(codes) and data["status"] != RunStatus.FAILED.value):
        tail = process.log_tail(run_dir)
        return Finish(RunStatus.FAILED, "a rank process failed", error=f"rank exit codes {codes}\n{tail}")
    return Finish(RunStatus(data["status"]), data["reason"], error=data.get("error"), step=data.get("step"))


def _ranks_stopped_at_start_up(run_dir: Path, commands: Commands) -> Finish:
    """Rank 0's account (it names the start-up phase, or says how it failed), else the stop that was
    requested."""
    outcome_file = run_dir / OUTCOME_NAME
    data = json.loads(outcome_file.read_text()) if outcome_file.exists() else None
    if data is not None:
        return Finish(RunStatus(data["status"]), data["reason"], error=data.get("error"), step=data.get("step"))
    kind = commands.stop_requested or control.requested_stop(run_dir)
    return start_up_stop_finish(kind, "starting the processes")


def run_rank(run_id: int, rank: int, *, lean: bool = False) -> int:
    """A rank process of a distributed run: train; rank 0 reports and writes the outcome (`lean`:
    as for `run_worker`)."""
    store = open_store()
    log_watch = watching = None
    try:
        run = runs.get(store, run_id)
        run_dir = Path(run.run_dir)
        log_watch = worker_log.keep_attached(run_dir / process.LOG_NAME, HEARTBEAT_S)
        commands = Commands()
        watching = install_stop_handler(run_dir, commands)
        config = frozen_config(run_dir)
        if lean:
            keep_out_unneeded(config)
        from spark_trainer.training.oom import OutOfMemory

        code = None
        try:
            outcome = train(store, run_id, config, run_dir, commands, report=rank == 0)
            finish = outcome_finish(outcome, commands)
        except OperationFailedOOM as exc:
            finish = Finish(RunStatus.FAILED, "out of memory", error=str(exc))
        except OutOfMemory as exc:  # tell the launcher; it stops every rank and decides the retry for all
            say(f"rank {rank}: {exc}")
            (run_dir / f"{OOM_PREFIX}{rank}.json").write_text(json.dumps(
                {"micro_batch": exc.micro_batch, "grad_accum": exc.grad_accum, "where": getattr(exc, "where", None),
                 "message": str(exc)}))
            return OOM_EXIT
        except DiskFull as exc:
            finish = disk_full_finish(exc, run_dir)
        except Diverged as exc:  # every rank sees the same reduced loss: all stop at the same step
            say(str(exc))
            finish = Finish(RunStatus.FAILED, "training diverged", error=str(exc))
        except StopRequested as exc:
            finish, code = start_up_stop_finish(exc.kind, exc.phase), START_UP_STOP_EXIT
        except SparkError as exc:  # a user's error (its base model moved since the submit): one line, as a
            finish = engine_failure(exc)  # worker says it, and rank 0's outcome gives the run that line
        except Exception as exc:  # noqa: BLE001 - see below
            if commands.stop_requested is None:
                raise
            # Another rank stopped during start-up, breaking the rendezvous or collective this one was in.
            first_line = (str(exc).strip().splitlines() or [""])[0][:200]
            say(f"rank {rank}: stopped by request ({type(exc).__name__} from a rank that stopped first: {first_line})")
            return START_UP_STOP_EXIT
        if rank == 0:
            payload = {"status": finish.status.value, "reason": finish.reason, "error": finish.error,
                       "step": finish.step}
            tmp = run_dir / (OUTCOME_NAME + ".tmp")
            tmp.write_text(json.dumps(payload))
            tmp.replace(run_dir / OUTCOME_NAME)
        if code is not None:
            return code
        # A failed rank exits non-zero, so the launcher gives any rank still waiting in a collective
        # for it a grace period, then stops it, instead of waiting forever.
        return 1 if finish.status == RunStatus.FAILED else 0
    finally:
        if log_watch is not None:
            log_watch.set()
        if watching is not None:
            watching.set()
        store.close()

