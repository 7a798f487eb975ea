"""Keep the computer awake while runs train: systemd-inhibit (Linux), caffeinate (macOS),
SetThreadExecutionState (Windows). `SleepInhibitor.status` says plainly, in a few words, when it
cannot; `SleepInhibitor.detail` gives the platform's own words."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

_ES_CONTINUOUS = 0x80000000
_ES_SYSTEM_REQUIRED = 0x00000001


class SleepInhibitor:
    """`hold()` while runs are active, `release()` when none are; both are idempotent."""

    def __init__(self, reason: str = "SparkTrainer: training runs are active") -> None:
        self.reason = reason
        self._proc: subprocess.Popen[bytes] | None = None
        self._windows_held = False
        self.status = "not holding"
        self.detail = ""
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
                self._refused("Windows refused", "SetThreadExecutionState returned 0")
            return ok
        cmd = self.command()
        if cmd is None:
            need = "systemd-inhibit" if sys.platform.startswith("linux") else "caffeinate"
            self._refused(f"{need} not found", f"{need} was not found on PATH")
            return False
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE)
        except OSError as exc:
            self._refused(str(exc.strerror or exc), f"{cmd[0]} could not be started: {exc}")
            return False
        try:  # a tool that fails (no logind, no D-Bus) exits at once
            self._proc.wait(timeout=0.3)
        except subprocess.TimeoutExpired:
            self.status = "keeping the system awake"
            return True
        err = (self._proc.stderr.read().decode(errors="replace").strip().splitlines() or ["exited"])[-1]
        self._proc = None
        no_bus = "bus" in err.lower()  # systemd-inhibit without D-Bus: "Failed to connect to bus: ..."
        self._refused("no D-Bus" if no_bus else err, f"{Path(cmd[0]).name} failed: {err}")
        return False

    def _refused(self, short: str, detail: str) -> None:
        self.status = f"cannot keep the system awake ({short})"
        self.detail = f"{detail}. The system may go to sleep while runs train; change its power settings " \
                      "if it does."

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
