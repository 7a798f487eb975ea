"""One window per data home: a second start on the same home brings the first window to the front.

The first window listens on a local socket (QLocalServer: a Unix socket, a named pipe on Windows)
named after the resolved home and the user; a later start on that home connects, asks the window
to come forward and exits. Two windows on one home each ran a scheduler and whichever closed last
saved the window layout. The CLI (`spark-trainer`) and workers never listen or ask: they share the
home with the window as before (their presence is HOME/.open, spark_trainer.store.presence).
"""

from __future__ import annotations

import getpass
import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

RAISE = b"raise\n"
DONE = b"raised\n"


def server_name(root: Path) -> str:
    """The socket's name for this user and home (a hash: a path may be long or hold any character)."""
    user = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
    digest = hashlib.sha256(f"{user}\0{Path(root).expanduser().resolve()}".encode()).hexdigest()[:20]
    return f"sparktrainer-{digest}"


def ask_to_raise(root: Path, timeout_ms: int = 3000) -> str | None:
    """Ask the window that has `root` open to come to the front. Returns None when no window listens,
    'raised' when it answered, 'silent' when one listens but did not answer in time (busy)."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(root))
    if not socket.waitForConnected(timeout_ms):
        return None
    socket.write(RAISE)
    socket.waitForBytesWritten(timeout_ms)
    answer = bytes(socket.readAll().data()) if socket.waitForReadyRead(timeout_ms) else b""
    socket.disconnectFromServer()
    return "raised" if answer.startswith(DONE) else "silent"


class HomeWindowServer(QObject):
    """Listens for later starts on the same home; `raise_requested` when one asks."""

    raise_requested = Signal()

    def __init__(self, root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(root)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._answer)

    def listen(self) -> bool:
        """Start listening. A socket file left by a window that crashed (nobody answers on it) is
        removed first; False if another window listens (it answers) or the name cannot be taken."""
        if _answers(self.name):  # asked first: Qt's listen() replaces a live window's socket file too
            return False
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def close(self) -> None:
        self.server.close()

    def _answer(self) -> None:
        """Answer each start at once (it writes as soon as it connects; a probe just closes): no slot
        outlives the connection, which is deleted here."""
        while self.server.hasPendingConnections():
            connection = self.server.nextPendingConnection()
            if connection.waitForReadyRead(1000) and bytes(connection.readAll().data()).startswith(RAISE):
                connection.write(DONE)
                connection.waitForBytesWritten(1000)
                self.raise_requested.emit()
            connection.disconnectFromServer()
            connection.deleteLater()


def _answers(name: str) -> bool:
    """Whether something accepts connections on `name` (a live window, not a stale socket file)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    alive = socket.waitForConnected(500)
    socket.abort()
    return alive


def claim(root: Path) -> HomeWindowServer | int:
    """At start: this window's listener, listening; or, when another window has `root` open, the exit
    code for this start (after saying so on stderr): 0 when that window came forward, 1 when it did
    not answer."""
    import sys

    answer = ask_to_raise(root)
    if answer == "raised":
        print(f"SparkTrainer already has {root} open in another window: brought it to the front.", file=sys.stderr)
        return 0
    if answer == "silent":
        print(f"SparkTrainer already has {root} open in another window, which did not answer (busy?): "
              "switch to it, or close it first.", file=sys.stderr)
        return 1
    listener = HomeWindowServer(root)
    listener.listen()
    return listener


def bring_forward(window: QWidget) -> None:
    """Show the window in front of the others (restored if minimised), focused."""
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()
