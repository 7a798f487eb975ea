"""One window per data home: a second start on the same home brings the first window forward and
exits (two windows each ran a scheduler, and whichever closed last saved the layout)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.conftest import subprocess_env  # noqa: E402

ASK = ("import sys; from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
       "from app.single_instance import ask_to_raise; print(ask_to_raise(sys.argv[1]))")
LISTEN = ("import sys, time; from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
          "from app.single_instance import HomeWindowServer; s = HomeWindowServer(sys.argv[1]); "
          "print(s.listen(), flush=True); time.sleep(60)")


def _env() -> dict[str, str]:
    return subprocess_env(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(Path(__file__).resolve().parents[2]))


def test_a_later_start_is_answered_and_the_window_asked_forward(qtbot, tmp_path) -> None:
    from app.single_instance import HomeWindowServer, ask_to_raise

    assert ask_to_raise(tmp_path / "home") is None  # nobody listens: this start opens its window
    server = HomeWindowServer(tmp_path / "home")
    assert server.listen()
    try:
        asker = subprocess.Popen([sys.executable, "-c", ASK, str(tmp_path / "home")], env=_env(),
                                 stdout=subprocess.PIPE, text=True)
        with qtbot.waitSignal(server.raise_requested, timeout=30_000):
            pass
        assert asker.communicate(timeout=30)[0].strip() == "raised"
        other = subprocess.run([sys.executable, "-c", ASK, str(tmp_path / "other-home")], env=_env(),
                               capture_output=True, text=True, timeout=60)
        assert other.stdout.strip() == "None"  # another home is another window's business
    finally:
        server.close()


def test_a_socket_left_by_a_killed_window_does_not_block_the_next(tmp_path) -> None:
    from app.single_instance import HomeWindowServer

    holder = subprocess.Popen([sys.executable, "-c", LISTEN, str(tmp_path)], env=_env(), stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "True"
    server = HomeWindowServer(tmp_path)
    assert not server.listen()  # a live window has it
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert server.listen()  # its socket file was left behind; nobody answers on it
    server.close()


def test_a_second_app_process_on_the_same_home_raises_the_first_and_exits(tmp_path) -> None:
    home = tmp_path / "home"
    first = subprocess.Popen([sys.executable, "-m", "app.main", "--home", str(home)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        from app.single_instance import _answers, server_name

        deadline = time.monotonic() + 90
        while not _answers(server_name(home)):
            assert first.poll() is None and time.monotonic() < deadline, "the first window never listened"
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "app.main", "--home", str(home)], env=_env(),
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
        assert f"already has {home.resolve()} open in another window: brought it to the front" in second.stderr
        assert first.poll() is None  # the first window stays
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def test_a_window_that_does_not_answer_is_named_and_the_start_exits_1(qtbot, tmp_path, capfd) -> None:
    """A window busy on its GUI thread accepts the connection but does not answer: the start says so
    and exits 1 (it returned 0, as if the window had come forward)."""
    from PySide6.QtNetwork import QLocalServer

    from app.single_instance import claim, server_name

    busy = QLocalServer()  # listens, and nothing reads what arrives (no event loop turns meanwhile)
    assert busy.listen(server_name(tmp_path / "home"))
    try:
        assert claim(tmp_path / "home") == 1
        assert "did not answer" in capfd.readouterr().err
    finally:
        busy.close()
