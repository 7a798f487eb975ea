"""The GUI's end of the model-serving worker: a QProcess speaking the line-delimited JSON protocol
of `spark_trainer.playground.protocol`. Writing is buffered by Qt and reading happens when the
process has output, so the GUI thread never waits on the model.

The server leads its own session and process group on POSIX, as a training worker does
(`portable.spawn_options`): Ctrl+C in the terminal that started the app is not sent to it, and a
stop that runs out of patience kills the whole group, anything the server started included. It
goes by itself when the app dies without stopping it: its stdin closes (see `server`)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from spark_trainer.jobs import portable
from spark_trainer.playground import protocol, servers
from spark_trainer.playground.server import DEFAULT_IDLE_S, serve_command

LOG_NAME = "server.log"
STOP_GRACE_MS = 10_000  # what a stopped server has to unload and exit before its group is killed


class PlaygroundClient(QObject):
    """Starts, feeds and stops one serving process. `event` carries every message it sends, plus
    {"event": "exited", "code": N, "log": tail} when the process ends without saying why ("signal": N
    too when a signal ended it)."""

    event = Signal(dict)
    running_changed = Signal(bool)

    def __init__(self, home: Path, parent: QObject | None = None, *, idle_s: float = DEFAULT_IDLE_S) -> None:
        super().__init__(parent)
        self.home, self.idle_s = Path(home), idle_s
        self.device: str | None = None  # "cpu" or a GPU id as text
        self.process: QProcess | None = None
        self._ids = itertools.count(1)
        self._buffer = b""
        self._said_goodbye = False
        self._groups: dict[QProcess, portable.Group] = {}  # each started server's, taken when it started

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, device: str) -> None:
        """Start the server on `device` ("cpu" or a GPU id); returns at once (it loads in the background)."""
        self.stop()
        log_dir = servers.folder(self.home)
        log_dir.mkdir(parents=True, exist_ok=True)
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("CUDA_VISIBLE_DEVICES", "" if device == "cpu" else str(device))
        proc.setProcessEnvironment(env)
        proc.setStandardErrorFile(str(log_dir / LOG_NAME), QProcess.OpenModeFlag.Append)
        own_process_group(proc)
        proc.readyReadStandardOutput.connect(self._read)
        proc.finished.connect(self._finished)
        command = serve_command(self.home, "cpu" if device == "cpu" else "cuda", self.idle_s)
        self.device, self.process, self._buffer, self._said_goodbye = device, proc, b"", False
        proc.start(command[0], command[1:])
        group = portable.Group.of(proc.processId()) if proc.processId() else None
        if group is not None:  # taken now: a child left behind by a server that exited is still found
            self._groups[proc] = group
        self.running_changed.emit(True)

    def request(self, op: str, **fields: Any) -> int:
        """Send a request; returns its id (answers carry it)."""
        rid = next(self._ids)
        self.send({"op": op, "id": rid, **fields})
        return rid

    def send(self, message: dict[str, Any]) -> None:
        if self.process is None:
            raise RuntimeError("the playground server is not running")
        self.process.write(protocol.encode(message))

    def stop(self, grace_ms: int = STOP_GRACE_MS) -> None:
        """Ask the server to unload and exit (it does so between tokens); does not wait. One still
        there after `grace_ms` (stuck loading, say) is killed with its process group."""
        if self.process is None:
            return
        proc, self.process = self.process, None
        if proc.state() != QProcess.ProcessState.NotRunning:
            proc.write(protocol.encode({"op": "shutdown"}))
            proc.closeWriteChannel()
            timer = QTimer(proc)  # goes with the process object
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: self._kill(proc))
            timer.start(grace_ms)
            # Parent stays this client until it has gone; a QProcess deleted while running kills it.
            proc.finished.connect(proc.deleteLater)
        else:
            self._groups.pop(proc, None)
            proc.deleteLater()
        self.running_changed.emit(False)

    def wait_stopped(self, timeout_ms: int = 10_000) -> bool:
        """For app shutdown and tests: stop and wait; kills the process group of a server that does
        not go in time."""
        proc = self.process
        self.stop()
        for child in self.findChildren(QProcess):
            if child.state() != QProcess.ProcessState.NotRunning and not child.waitForFinished(timeout_ms):
                self._kill(child)
                child.waitForFinished(2000)
        return proc is None or proc.state() == QProcess.ProcessState.NotRunning

    def _kill(self, proc: QProcess) -> None:
        """Kill a server that would not stop, and every process of its group (its tree on Windows)."""
        group = self._groups.pop(proc, None)
        if proc.state() == QProcess.ProcessState.NotRunning:
            return
        if group is not None:
            group.kill()
        proc.kill()

    # ---- incoming ---------------------------------------------------------------------------------
    def _read(self) -> None:
        proc = self.sender()
        if not isinstance(proc, QProcess):
            return
        self._buffer += bytes(proc.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                message = protocol.decode(line)
            except protocol.ProtocolError:
                continue  # not ours (a library wrote to fd 1 before the server redirected it)
            if message.get("event") == "unloaded":
                self._said_goodbye = True
            self.event.emit(message)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        proc = self.sender()
        group = self._groups.pop(proc, None) if isinstance(proc, QProcess) else None
        if group is not None:
            group.kill()  # anything the server started and left behind
        if proc is self.process:
            self.process = None
            self.running_changed.emit(False)
            if not self._said_goodbye:
                # A crash's "exit code" is the signal's number (9 for kill -9): say which it was.
                killed = {"signal": code} if status == QProcess.ExitStatus.CrashExit else {}
                self.event.emit({"event": "exited", "code": code, **killed, "log": log_tail(self.home)})


def own_process_group(proc: QProcess) -> None:
    """Start `proc` in a session and process group of its own on POSIX (Qt's setsid() between fork
    and exec). Windows' QProcess has no such setting here; the server ignores Ctrl+C itself there
    (`server.main`), and a kill ends its process tree (`portable.Group`)."""
    if hasattr(proc, "setUnixProcessParameters"):
        proc.setUnixProcessParameters(QProcess.UnixProcessFlag.CreateNewSession)


def log_tail(home: Path, lines: int = 6) -> str:
    path = servers.folder(home) / LOG_NAME
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 8000))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def describe_exit(message: dict[str, Any]) -> str:
    """One line for an `exited` event: how the model process ended, and the last line of its log."""
    import signal

    if message.get("signal") is not None:
        number = int(message["signal"])
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        how = f"was killed by signal {number} ({name}" + ("; the system may have run out of memory)"
                                                          if number == getattr(signal, "SIGKILL", None) else ")")
    else:
        how = f"ended (exit code {message.get('code')})"
    tail = (message.get("log") or "").strip().splitlines()
    last = tail[-1].strip() if tail and message.get("signal") is None else ""
    return f"The model process {how}" + (f": {last}" if last else "") + ". It loads again with the next prompt."


