"""Closing the app on SIGTERM (a session logout, `kill`) and SIGINT as the user closes its window,
while Qt's event loop waits in C++ (app.main installs it for the life of the event loop)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


def close_on_signals(window) -> Callable[[], None]:
    """SIGTERM (a session logout, `kill`) and SIGINT close the window as the user does: its geometry and
    last view are saved and the scheduler, poller and pool stop (closeEvent), then the app quits.

    Python runs a signal handler only between bytecodes, and Qt's event loop sits in C++ while idle:
    the handler would wait for the next Python slot. The signal module writes a byte to a socket
    (`set_wakeup_fd`) that a QSocketNotifier watches, so the loop wakes and the handler runs at once.
    Returns the function that puts the previous handlers back."""
    import socket

    from PySide6.QtCore import QSocketNotifier, QTimer
    from PySide6.QtWidgets import QApplication

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)

    def drain() -> None:  # the Python handler has run by now (this slot is Python code)
        try:
            while reader.recv(64):
                pass
        except OSError:
            pass

    def close() -> None:
        window.ask_before_quit = False  # nobody is there to answer (the session is ending)
        window.close()
        QApplication.quit()

    def handler(signum: int, _frame: object) -> None:
        print(f"spark-trainer-gui: {signal.Signals(signum).name} received; closing", file=sys.stderr, flush=True)
        QTimer.singleShot(0, close)  # out of the handler: closing runs Qt code and waits for threads

    notifier.activated.connect(drain)
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_fd = signal.set_wakeup_fd(writer.fileno())

    def restore() -> None:
        signal.set_wakeup_fd(old_fd)
        for sig, old in previous.items():
            signal.signal(sig, old)
        notifier.setEnabled(False)
        reader.close()
        writer.close()

    return restore
