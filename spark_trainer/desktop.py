"""Keep the computer awake while runs train: systemd-inhibit (Linux), caffeinate (macOS),
SetThreadExecutionState (Windows). `SleepInhibitor.status` says plainly, in a few words a user reads
in a status bar, when it cannot (the same words on every platform); `SleepInhibitor.detail` gives the
reason in the platform's own words and what the user can do."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# What the status bar says when the system cannot be kept awake, on every platform: the user's words
# ("cannot keep the system awake (no D-Bus)" was the tool's), the reason in `detail`.
REFUSED = "Can't keep the computer awake while runs train"
WHAT_TO_DO = ("If it sleeps, training stops until it wakes: to avoid that, turn off automatic sleep in the "
              "system's power settings while runs train.")

_ES_CONTINUOUS = 0x80000000
_ES_SYSTEM_REQUIRED = 0x00000001


class SleepInhibitor:
    """`hold()` while runs are active, `release()` when none are; both are idempotent."""

    log_refusal = True  # False where the caller says it in its own words (`queue serve`'s warning line)

    def __init__(self, reason: str = "SparkTrainer: training runs are active") -> None:
        self.reason = reason
        self._proc: subprocess.Popen[bytes] | None = None
        self._windows_held = False
        self.status = "not holding"
        self.detail = ""  # why it could not hold, in the helper's words ("Failed to connect to bus: ...")

    @property
    def held(self) -> bool:
        return self._windows_held or (self._proc is not None and self._proc.poll() is None)

    def command(self) -> list[str] | None:
        """The helper process that holds the inhibition on this platform, or None."""
        if sys.platform.startswith("linux"):
            tool = shutil.which("systemd-inhibit")
            return [tool, "--what=sleep:idle", "--who=SparkTrainer", f"--why={self.reason}", "--mode=block",
                    "sleep", "infinity"] if tool else None
        if sys.platform == "darwin":
            tool = shutil.which("caffeinate")
            return [tool, "-i", "-s"] if tool else None
        return None

    def hold(self) -> bool:
        """Start keeping the system awake; False (and `status` says why) when this platform can't."""
        if self.held:
            return True
        if sys.platform == "win32":
            import ctypes

            ok = bool(ctypes.windll.kernel32.SetThreadExecutionState(_ES_CONTINUOUS | _ES_SYSTEM_REQUIRED))
            self._windows_held = ok
            self.status = "keeping the system awake"
            if not ok:
                self._refused("Windows refused to keep the computer awake (SetThreadExecutionState returned 0)")
            return ok
        cmd = self.command()
        if cmd is None:
            need = "systemd-inhibit" if sys.platform.startswith("linux") else "caffeinate"
            self._refused(f"{need}, the program that keeps the computer awake, was not found on PATH")
            return False
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE)
        except OSError as exc:
            self._refused(f"{cmd[0]}, the program that keeps the computer awake, could not be started: {exc}")
            return False
        try:  # a tool that fails (no logind, no D-Bus) exits at once
            self._proc.wait(timeout=0.3)
        except subprocess.TimeoutExpired:
            self.status = "keeping the system awake"
            return True
        err = (self._proc.stderr.read().decode(errors="replace").strip().splitlines() or ["exited"])[-1]
        self._proc = None
        # systemd-inhibit without D-Bus (a container, a remote or minimal session): "Failed to connect to bus"
        why = " (this session has no D-Bus system bus to ask)" if "bus" in err.lower() else ""
        self._refused(f"{Path(cmd[0]).name}, which keeps the computer awake, failed: {err}{why}")
        return False

    def _refused(self, reason: str) -> None:
        self.status = REFUSED
        self.detail = f"{reason}. {WHAT_TO_DO}"
        if self.log_refusal:
            log.warning("cannot keep the system awake while runs train: %s", reason)

    def release(self) -> None:
        if self._windows_held:
            import ctypes

            ctypes.windll.kernel32.SetThreadExecutionState(_ES_CONTINUOUS)
            self._windows_held = False
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        self.status = "not holding"


class KeepAwake:
    """A SleepInhibitor held while runs are active, for every scheduler that stays up (the app, `queue
    serve`): `update(active)` after each read of the runs. A refusal is tried once per spell of active
    runs (the helper is not started again on every read) and said once; none active releases it."""

    def __init__(self, inhibitor: SleepInhibitor | None = None) -> None:
        self.inhibitor = inhibitor if inhibitor is not None else SleepInhibitor()
        self.refused = False  # tried during this spell of active runs, and refused

    def update(self, active: bool) -> str | None:
        """What changed now: "held", "refused" (`inhibitor.status` and `.detail` say why), "released",
        "refusal over" (no run active any more after a refusal), or None."""
        if not active:
            return self.release()
        if self.inhibitor.held or self.refused:
            return None
        if self.inhibitor.hold():
            return "held"
        self.refused = True
        return "refused"

    def release(self) -> str | None:
        if self.inhibitor.held:
            self.inhibitor.release()
            return "released"
        if self.refused:
            self.refused = False
            return "refusal over"
        return None
