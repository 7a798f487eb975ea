"""Worker processes: spawn detached, identify (pid + start time), stop and kill their groups (POSIX
process groups, or process trees where there are none: see `portable`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from spark_trainer.jobs import chain_keeper, portable

# Start times are floats from the OS clock; the same process always reports the same value, but
# leave room for rounding through the database.
_START_TIME_TOLERANCE_S = 0.05
LOG_NAME = "worker.log"


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    start_time: float


# Where each boot's anchor is kept (see _boot_anchor): a tmpfs, emptied at every boot, where there is one.
ANCHOR_DIR = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
_anchors: dict[str, float] = {}


def _boot_anchor() -> float | None:
    """This boot's start on the wall clock as the first process to ask read it, kept in a file named
    after the kernel's boot id, so that every process adds the same number to a start time.

    The kernel's boot time (psutil.boot_time) is the wall clock minus the time since boot: a step of the
    clock (NTP correcting a machine woken from sleep, a VM resumed, a leap second, `date -s`) moves it
    for every process that reads it afterwards, and start times computed from it no longer matched those
    recorded before the step: a live worker was taken for a dead one (interrupted while it trained, and a
    cancel that did not stop it). None where there is no boot id (not Linux)."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    if boot_id in _anchors:
        return _anchors[boot_id]
    path = ANCHOR_DIR / f"spark-trainer-boot-{portable.user_key()}-{boot_id}"
    try:
        if not path.exists():
            tmp = path.with_name(f"{path.name}.{os.getpid()}")
            try:
                tmp.write_text(repr(psutil.boot_time()))
                os.link(tmp, path)  # the first process's reading wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        if not portable.owned_by_me(path):
            return None  # not this user's: never trust another user's file in a shared folder
        anchor = float(path.read_text())
    except (OSError, ValueError):
        return None  # an unwritable or damaged anchor: the kernel's boot time, as before
    _anchors[boot_id] = anchor
    return anchor


def _since_boot(pid: int) -> float | None:
    """When `pid` started, in seconds since boot (the kernel's clock ticks, which no clock step changes)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):  # AttributeError: no os.sysconf (Windows)
        return None


def identity(pid: int) -> ProcessIdentity | None:
    """The pid and its start time on the wall clock, or None if no such (live) process exists.

    On Linux the start time is the same in every process, before and after a step of the clock: the
    ticks since boot plus this boot's anchor (see _boot_anchor)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        anchor, since_boot = _boot_anchor(), _since_boot(pid)
        if anchor is not None and since_boot is not None:
            return ProcessIdentity(pid, anchor + since_boot)
        return ProcessIdentity(pid, proc.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_alive(pid: int | None, start_time: float | None) -> bool:
    """True only if `pid` is alive AND is the same process that started at `start_time`.

    A pid reused by an unrelated process has another start time, so it does not count.
    Exited children of this process are reaped on the way.
    """
    if pid is None:
        return False
    _reap(pid)
    found = identity(pid)
    if found is None:
        return False
    return start_time is None or abs(found.start_time - start_time) <= _START_TIME_TOLERANCE_S


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our own exited child (so it is not left a zombie; Windows
    has none)."""
    if not hasattr(os, "WNOHANG"):
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its own parent (or init) reaps it


def worker_command(run_id: int, *extra: str) -> list[str]:
    """How to start the worker role: the frozen executable itself, or `python -m spark_trainer`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "worker", str(run_id), *extra]
    return [sys.executable, "-m", "spark_trainer", "worker", str(run_id), *extra]


def spawn_worker(run_id: int, run_dir: Path, home: Path, gpus: list[int], claim_fd: int | None = None
                 ) -> ProcessIdentity:
    """Start a detached worker for a run (own session and process group; on Windows a new process group
    without a console window), logging to worker.log. `claim_fd`: the run's claim lock, which the worker
    inherits and holds until it has recorded itself (jobs/claim_lock.py).

    The worker outlives whoever started it: closing the GUI or the terminal does not stop training.
    """
    from spark_trainer.jobs import claim_lock

    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["SPARK_TRAINER_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    # NVML numbers GPUs by PCI bus id; CUDA's default order is "fastest first". Without this, on a
    # machine with mixed GPUs the ids the scheduler picked (from NVML) name other cards in CUDA.
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus) if gpus else ""
    env.pop(claim_lock.ENV, None)
    if claim_fd is not None:
        env[claim_lock.ENV] = str(claim_fd)
    with open(run_dir / LOG_NAME, "ab") as log:
        proc = subprocess.Popen(
            worker_command(run_id),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(run_dir),
            close_fds=True,
            pass_fds=() if claim_fd is None else (claim_fd,),
            **portable.spawn_options(),
        )
    found = identity(proc.pid)
    if found is None:  # exited at once (e.g. a broken install); the log says why
        proc.wait()
        return ProcessIdentity(proc.pid, time.time())
    chain_keeper.spawn(run_id, found.pid, found.start_time, home, run_dir / LOG_NAME)  # if it is killed outright
    return found


def signal_group(pid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the process group led by `pid` (the worker and any rank processes); False where
    there are no process groups to signal (Windows: see kill_group)."""
    if not portable.posix_signals():
        return False
    try:
        os.killpg(os.getpgid(pid), sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def wait_gone(pid: int, start_time: float | None, timeout_s: float, poll_s: float = 0.1) -> bool:
    """Wait until the process is gone; True if it went within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while is_alive(pid, start_time):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True


def stop_group(pid: int, start_time: float | None, grace_s: float,
               still_working: Callable[[], bool] | None = None) -> str:
    """Ask the worker's group to stop (SIGTERM on POSIX; the caller has written its request file, which
    is all a worker gets on Windows); after `grace_s` kill it, unless `still_working()` says it is busy
    stopping (polled every second past the grace: a large checkpoint being written). Returns "exited"
    or "killed"."""
    if not is_alive(pid, start_time):
        return "exited"
    group = portable.Group.of(pid)
    if group is None or not group.ask_to_stop():
        return "exited"
    gone = wait_gone(pid, start_time, grace_s)
    while not gone and still_working is not None and still_working():
        gone = wait_gone(pid, start_time, 1.0)
    group.kill()  # what is left of the group: everything, or stragglers of a worker that exited
    if gone:
        return "exited"
    wait_gone(pid, start_time, 10.0)
    return "killed"


def kill_group(pid: int, start_time: float | None) -> None:
    """Kill the worker `pid` and its group (its tree where there are no process groups) at once, and
    wait up to 10 s for the worker to go; nothing if `pid` no longer names that worker."""
    if not is_alive(pid, start_time):
        return
    group = portable.Group.of(pid)
    if group is not None:
        group.kill()
    wait_gone(pid, start_time, 10.0)


# Terminal escape sequences: colours and bold (transformers' load report writes "\x1b[1m"), cursor moves,
# window titles. A stored error quoting the log is shown as text, where they are garbage.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])")


def strip_ansi(text: str) -> str:
    """`text` without its terminal escape sequences."""
    return _ANSI.sub("", text)


def log_tail(run_dir: Path, lines: int = 20, max_chars: int = 4000) -> str:
    """The last lines of a run's worker.log (for errors of interrupted runs), without terminal escapes."""
    path = Path(run_dir) / LOG_NAME
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64_000))
            text = strip_ansi(fh.read().decode("utf-8", errors="replace"))
    except FileNotFoundError:
        return ""
    tail = "\n".join(text.splitlines()[-lines:])
    return tail[-max_chars:]
