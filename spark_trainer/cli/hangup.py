"""What a `--wait` command does when its terminal closes (SIGHUP) or it is told to stop (SIGTERM): the
same as Ctrl-C. `eval` cancels its evaluation (a result nobody will read); `train`, `run start` and the
other run waits stop waiting and leave the run training, as runs outlive the command that started them."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _forget_unhandled() -> None:
    """Clear CPython 3.11's note that a KeyboardInterrupt went unhandled. It is set whenever one passes
    through code run by `exec` of a string (dataclasses and SQLAlchemy make functions so, on first use),
    even when it is caught later, and the interpreter then ends its process by SIGINT after a clean
    exit: `queue serve` stopped by SIGTERM just after it started printed its summary and then died by
    SIGINT (-2), not status 0. An interrupt that reaches the top is noted again there. Elsewhere (no such
    symbol: other Pythons, a frozen app's runtime) nothing is done."""
    try:
        import ctypes

        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
    except (AttributeError, ImportError, OSError, ValueError):
        pass


@contextmanager
def like_ctrl_c() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGHUP raise KeyboardInterrupt as Ctrl-C does; outside it they do
    what they did before. Only the main thread can take signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, _interrupt) for s in SIGNALS}
    try:
        yield
    except KeyboardInterrupt:  # the caller decides what it means (stop waiting, cancel, say a summary)
        _forget_unhandled()
        raise
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
