"""The model-serving worker: keeps one run's model loaded and answers requests (see `protocol`).

Started by the GUI (`python -m spark_trainer playground-serve`) with CUDA_VISIBLE_DEVICES set to the
chosen GPU, or on the CPU. It exits, freeing its memory, when it has been idle for `idle_s`, when
the scheduler needs its GPU for a training run (a reason file, which it polls, and SIGTERM on POSIX;
see `servers`), when
asked to, or when its stdin closes (the GUI went away, even killed: an answer being written stops
at the next token; a load still under way GONE_GRACE_S later is abandoned, the process ending). Ctrl+C is not for it: the GUI starts it in a process group of its own on POSIX,
and it ignores SIGINT, which is how Windows would hand it the Ctrl+C of the app's console.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NoReturn

from spark_trainer.errors import BadInput, describe
from spark_trainer.playground import protocol, servers
from spark_trainer.playground.generators import Generator, generator_spec
from spark_trainer.playground.source import RunGone

log = logging.getLogger(__name__)
DEFAULT_IDLE_S = 600.0
_POLL_S = 0.2
GONE_GRACE_S = 10.0  # after the app went, what the loop has to unload and return before the process ends


class Server:
    def __init__(self, home: Path, device: str, gpus: list[int], idle_s: float, out: IO[bytes]) -> None:
        self.home, self.device, self.gpus, self.idle_s, self.out = Path(home), device, gpus, idle_s, out
        self.requests: queue.Queue[dict[str, Any]] = queue.Queue()
        self.cancelled: set[Any] = set()
        self.release_reason: str | None = None
        self.run_gone = False  # the release's reason: the loaded run was deleted
        self.app_gone = False  # stdin closed: nobody reads the answers any more
        self.generator: Generator | None = None
        self.loaded_key: tuple[int, str] | None = None
        self.kind: str | None = None
        self._facts: dict[str, Any] = {}
        self._store: Any = None
        self._info = servers.ServerInfo(pid=os.getpid(), start_time=_start_time(), device=device, gpus=gpus)

    # ---- wiring -----------------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        try:
            self.out.write(protocol.encode(message))
            self.out.flush()
        except BrokenPipeError:  # the app went (killed, say) before its stdin's end was read: as that
            self.app_gone = True

    def read_requests(self, stdin: IO[bytes]) -> None:
        """On a thread: parse requests; cancels take effect at once, the rest are queued in order."""
        for line in stdin:
            if not line.strip():
                continue
            try:
                message = protocol.decode(line)
            except protocol.ProtocolError as exc:
                self.requests.put({"op": "_invalid", "message": str(exc)})
                continue
            if message.get("op") == "cancel":
                self.cancelled.add(message.get("id"))
            else:
                self.requests.put(message)
        self.app_gone = True  # an answer being generated, which may be long, stops at its next token
        self.requests.put({"op": "shutdown", "reason": "the app closed the connection"})

    def exit_when_app_gone(self, finished: threading.Event, grace_s: float = GONE_GRACE_S,
                           exit: Callable[[int], Any] = os._exit) -> threading.Thread:
        """On a thread: once stdin has closed, give the loop `grace_s` to unload and return (`finished`
        is set when it has). A load, which nothing interrupts, still under way then is abandoned: the
        process ends, and its memory with it."""

        def watch() -> None:
            while not self.app_gone:
                if finished.wait(_POLL_S):
                    return
            if not finished.wait(grace_s):
                servers.remove(self.home, os.getpid())
                exit(0)

        thread = threading.Thread(target=watch, daemon=True, name="app gone")
        thread.start()
        return thread

    def watch_release(self) -> threading.Event:
        """Take a release note as SIGTERM is taken (on Windows the note is all that comes): polled."""
        from spark_trainer.jobs import portable

        return portable.watch(servers.release_path(self.home, os.getpid()), lambda: self.on_sigterm(0, None),
                              until=lambda: self.release_reason is not None)

    def on_sigterm(self, _signum: int, _frame: Any) -> None:
        note = servers.read_release(self.home, os.getpid())
        self.run_gone = note.run_gone
        self.release_reason = note.reason or "asked to stop"

    # ---- the loop ---------------------------------------------------------------------------------
    def run(self) -> int:
        servers.write(self.home, self._info)
        self.send({"event": "ready", "pid": os.getpid(), "device": self.device, "gpus": self.gpus})
        last_active = time.monotonic()
        reason = "shutdown"
        try:
            while True:
                if self.release_reason is not None:
                    reason = self.release_reason
                    break
                try:
                    message = self.requests.get(timeout=_POLL_S)
                except queue.Empty:
                    if time.monotonic() - last_active >= self.idle_s:
                        reason = f"idle for {self.idle_s:g} s"
                        break
                    continue
                if message.get("op") == "shutdown":
                    reason = message.get("reason", "shutdown")
                    break
                self.handle(message)
                last_active = time.monotonic()
            gone = False
            if self.release_reason is not None:
                reason, gone = self.release_reason, self.run_gone
            run = self.loaded_key[0] if self.loaded_key else None
            self.send({"event": "unloaded", "reason": reason, "run": run, "run_gone": gone})
        finally:
            if self.generator is not None:
                self.generator.close()
            servers.remove(self.home, os.getpid())
            if self._store is not None:
                self._store.close()
        return 0

    def handle(self, message: dict[str, Any]) -> None:
        rid = message.get("id")
        try:
            if message["op"] == "_invalid":
                raise BadInput(message["message"])
            if message["op"] == "load":
                self.send({"event": "loaded", "id": rid, **self.load(message)})
            elif message["op"] == "generate":
                self.send({"event": "done", "id": rid, "variant": message.get("variant", "tuned"),
                           "output": self.generate(message)})
        except RunGone as exc:  # deleted since the client picked it: it must not offer it again
            self.send({"event": "error", "id": rid, "message": str(exc), "bad_input": True,
                       "run": message.get("run"), "run_gone": True})
        except BadInput as exc:
            self.send({"event": "error", "id": rid, "message": str(exc), "bad_input": True})
        except Exception as exc:  # noqa: BLE001 - the client must get an answer; the log keeps the traceback
            traceback.print_exc(file=sys.stderr)
            self.send({"event": "error", "id": rid, "message": describe(exc), "bad_input": False})

    def load(self, message: dict[str, Any]) -> dict[str, Any]:
        from spark_trainer.playground.source import resolve_source
        from spark_trainer.store.store import Store

        if self._store is None:
            self._store = Store.open(str(self.home), upgrade=False)
        source = resolve_source(self._store, message.get("run"), str(message.get("checkpoint", "last")))
        spec = generator_spec(source.recipe)
        key = (source.run_id, str(source.path))
        started = time.monotonic()
        if key != self.loaded_key or self.generator is None:
            if self.generator is not None:
                self.generator.close()
                self.generator, self.loaded_key = None, None
            generator = spec.create()
            self._facts = generator.load(source, self.device)
            self.generator, self.loaded_key, self.kind = generator, key, spec.kind
        memory = self.generator.memory_bytes()
        self._info = servers.ServerInfo(**{**self._info.__dict__, "memory_bytes": memory, "run": source.run_id,
                                           "checkpoint": str(message.get("checkpoint", "last"))})
        servers.write(self.home, self._info)
        return {"source": source.to_dict(), "kind": self.kind, "memory_bytes": memory,
                "seconds": round(time.monotonic() - started, 3), **self._facts}

    def generate(self, message: dict[str, Any]) -> dict[str, Any]:
        rid, variant = message.get("id"), message.get("variant", "tuned")
        if variant not in ("tuned", "base"):
            raise BadInput(f"variant must be tuned or base, got {variant!r}")
        if rid in self.cancelled:
            return {"finish_reason": "cancelled", "text": ""}
        if self.generator is None:
            raise BadInput("no model is loaded; send a load request first")

        def emit(text: str) -> None:
            self.send({"event": "chunk", "id": rid, "variant": variant, "text": text})

        def should_stop() -> bool:
            return rid in self.cancelled or self.release_reason is not None or self.app_gone

        return self.generator.generate(message.get("inputs") or {}, message.get("settings") or {},
                                       base=variant == "base", emit=emit, should_stop=should_stop)


def _start_time() -> float | None:
    from spark_trainer.jobs.process import identity

    found = identity(os.getpid())
    return found.start_time if found else None


def visible_gpus() -> list[int]:
    """Physical GPU ids this process was given (CUDA_VISIBLE_DEVICES), for the scheduler's books."""
    raw = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [int(p) for p in raw.split(",") if p.strip().isdigit()]


def main(home: Path, device: str, idle_s: float = DEFAULT_IDLE_S) -> NoReturn:
    """The process's entry (it ends the process): protocol on the real stdout; anything else
    printed goes to stderr."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (libraries) must not corrupt the protocol
    from spark_trainer.training.kernels import quiet_optional_kernel_probe

    quiet_optional_kernel_probe()
    server = Server(home, device, visible_gpus() if device == "cuda" else [], idle_s, out)
    signal.signal(signal.SIGTERM, server.on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app's, not ours: see the module's note
    server.watch_release()
    reader = threading.Thread(target=server.read_requests, args=(sys.stdin.buffer,), daemon=True, name="requests")
    reader.start()
    finished = threading.Event()
    server.exit_when_app_gone(finished)
    code = server.run()
    finished.set()
    # The reader thread may be blocked reading stdin; a normal interpreter exit would then abort
    # ("could not acquire lock for stdin at shutdown"). Everything is written and closed by now.
    with contextlib.suppress(OSError):  # nobody reading (the app went): nothing more to say
        out.flush()
    sys.stderr.flush()
    os._exit(code)


def serve_command(home: Path, device: str, idle_s: float = DEFAULT_IDLE_S) -> list[str]:
    """How to start the serving role: the frozen executable's command-line role (`SparkTrainer cli ...`:
    without `cli` its launcher hands the arguments to the desktop app), or `python -m spark_trainer`."""
    role = ["--home", str(home), "playground-serve", "--device", device, "--idle-timeout", f"{idle_s:g}"]
    if getattr(sys, "frozen", False):
        return [sys.executable, "cli", *role]
    return [sys.executable, "-m", "spark_trainer", *role]
