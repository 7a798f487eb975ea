"""The playground's model process when something dies: the app killed while a model is loaded (the
server must not stay behind holding memory), the server killed while it loads or answers (one line,
and the next prompt loads again), the run deleted or given new checkpoints while its model is loaded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spark_trainer.jobs import process
from spark_trainer.playground import servers
from tests.playground.trained import TRAINING_PROMPT, TrainedRun, train_tiny_run

pytestmark = pytest.mark.timeout(1800)
REPO = Path(__file__).resolve().parents[2]


def _view(store, ctx, qtbot, run_id: int, checkpoint: str | None = None):
    from app.views.playground_view import PlaygroundView

    view = PlaygroundView(store, ctx, idle_s=120)
    qtbot.addWidget(view)
    view.open_run(run_id, checkpoint)
    qtbot.waitUntil(lambda: view.opening is None, timeout=30_000)
    view.panel.prompt.setPlainText(TRAINING_PROMPT)
    return view


def _server_pid(home: Path, qtbot) -> int:
    qtbot.waitUntil(lambda: bool(servers.live(home)), timeout=120_000)
    return servers.live(home)[0].pid


@pytest.mark.parametrize("mode", ["idle", "generate"])
def test_the_server_goes_when_the_app_is_killed(trained: TrainedRun, mode: str) -> None:
    """kill -9 of the app (no chance to say goodbye): its model server must leave the process table."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    app = subprocess.Popen([sys.executable, "-m", "tests.app.playground_holder", str(trained.home),
                            str(trained.run_id), mode], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        pid = int(app.stdout.readline().split()[1])
        start = process.identity(pid).start_time
        assert app.stdout.readline().strip() == "loaded"
        if mode == "generate":
            assert app.stdout.readline().strip() == "chunk"
        os.kill(app.pid, signal.SIGKILL)
        app.wait(10)
        assert process.wait_gone(pid, start, 30), f"the model server {pid} outlived the app by 30 s"
        assert servers.live(trained.home) == []
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)


@pytest.mark.parametrize("when", ["loading", "generating"])
def test_a_killed_server_is_said_in_one_line_and_the_next_prompt_loads_again(trained: TrainedRun, opened, qtbot,
                                                                            when: str) -> None:
    store, ctx = opened
    view = _view(store, ctx, qtbot, trained.run_id)
    view.panel.max_new_tokens.setValue(8192)
    view.panel.temperature.setValue(1.0)
    chunks: list[str] = []
    view.client.event.connect(lambda m: chunks.append(m["event"]) if m.get("event") == "chunk" else None)
    for _ask in range(5):
        chunks.clear()
        view.generate()
        pid = _server_pid(trained.home, qtbot)
        if when == "loading":
            break
        qtbot.waitUntil(lambda: bool(chunks) or not view.pending, timeout=120_000)
        if view.pending:
            # Frozen mid-answer, it cannot end the answer before the kill: the answer checked as pending
            # ended in the moment before the kill in a whole-suite run (8 tokens, "ended by the model").
            os.kill(pid, signal.SIGSTOP)
            qtbot.wait(300)  # what it wrote before the stop is read
            if view.pending:
                break
            os.kill(pid, signal.SIGCONT)
        # The tiny model's answer ended (an end-of-text token) before the kill came: ask again. On a
        # fast machine it had, once in four fresh-clone runs, and nothing was left to kill mid-answer.
    assert view.pending, "five answers ended before a kill could reach one"
    os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not view.pending, timeout=30_000)
    said = view.banner.text()
    assert "\n" not in said and "model process" in said and "killed" in said, said
    assert view.status.text() == "Not loaded"
    assert view.generate_button.isEnabled() and not view.stop_button.isEnabled()
    box = view.panel.tuned  # it said "Generating…" until the next prompt
    assert box.stats.text() == f"Failed: {said}" and not box.text.placeholderText(), box.text.placeholderText()

    view.panel.max_new_tokens.setValue(4)
    view.generate()
    qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
    assert view.status.text().startswith("Loaded on CPU"), view.status.text()
    view.shutdown()



def test_a_loaded_checkpoint_pruned_or_outrun_by_the_training_run_keeps_answering(tmp_path: Path, qsettings,
                                                                                  qtbot) -> None:
    """Checked, held up: the picker names checkpoints by step, so the loaded one stays what was asked for.
    Pruned from disk by the run (checkpoint.keep) while loaded, it still answers from memory; the new
    checkpoint the run wrote meanwhile is offered when the run is opened again."""
    import shutil

    from app.context import AppContext
    from spark_trainer.store.store import Store
    from spark_trainer.training import checkpoints

    own = train_tiny_run(tmp_path / "home", steps=4)
    shutil.rmtree(own.run_dir / "final")  # as while it trains: no final model yet
    store = Store.open(own.home)
    ctx = AppContext(store, qsettings, poll_gpus=False)
    try:
        view = _view(store, ctx, qtbot, own.run_id)
        assert view.checkpoint.currentData() == "4"
        view.panel.max_new_tokens.setValue(2)
        labels: list[str] = []
        view.client.event.connect(lambda m: labels.append(m["source"]["label"]) if m.get("event") == "loaded" else None)
        view.generate()
        qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
        assert labels == ["checkpoint step 4"]
        newest = checkpoints.list_checkpoints(own.run_dir)[-1]
        shutil.copytree(newest, newest.with_name("step-00000006"))  # the run wrote its next checkpoint
        shutil.rmtree(newest)  # and pruned the one loaded
        view.generate()
        qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
        assert labels == ["checkpoint step 4"] and not view.banner.text(), view.banner.text()
        assert view.panel.sample_item() is not None  # it answered
        view.open_run(own.run_id)
        qtbot.waitUntil(lambda: view.opening is None, timeout=30_000)
        assert view.checkpoint.currentData() == "6"
        view.shutdown()
    finally:
        assert ctx.shutdown(10.0)
        store.close()


@pytest.mark.parametrize("when", ["loaded", "not loaded"])
def test_a_deleted_run_is_said_gone_and_its_prompts_are_stopped(tmp_path: Path, qsettings, qtbot, when: str) -> None:
    """`run delete` of the run the Playground shows: its model is unloaded (the server says the run is
    gone), and the view says so instead of "it loads again with the next prompt", stops sending for that
    run and offers to pick another. Deleted before anything was loaded: the next prompt's load says the
    same, not "no run N"."""
    from app.context import AppContext
    from spark_trainer.cli.main import main
    from spark_trainer.store.store import Store

    own = train_tiny_run(tmp_path / "home", steps=4)
    store = Store.open(own.home)
    ctx = AppContext(store, qsettings, poll_gpus=False)
    try:
        view = _view(store, ctx, qtbot, own.run_id)
        view.panel.max_new_tokens.setValue(2)
        assert view.pick_button.isHidden()
        if when == "loaded":
            view.generate()
            qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
            assert view.status.text().startswith("Loaded on CPU"), view.status.text()
        assert main(["--home", str(own.home), "run", "delete", str(own.run_id), "--yes"]) == 0
        if when == "not loaded":
            view.generate()
        qtbot.waitUntil(lambda: not view.client.running and not view.pending, timeout=60_000)
        said = view.banner.text()
        assert said == f"Run {own.run_id} was deleted; pick another run to try.", said
        assert "loads again" not in view.status.text(), view.status.text()
        assert not view.generate_button.isEnabled() and not view.save_button.isEnabled()
        assert not view.pick_button.isHidden()
        view.generate()  # Enter in the prompt box still asks: nothing is sent
        assert not view.pending and not view.client.running
        with qtbot.waitSignal(view.pick_run):
            view.pick_button.click()
        view.shutdown()
    finally:
        assert ctx.shutdown(10.0)
        store.close()


def test_a_crash_exit_on_windows_is_described_without_posix_signal_names(windows_like) -> None:
    """On Windows a crashed model process reports an exit code (0xC0000005, an access violation), which
    no signal has a name for; signal.SIGKILL does not exist there."""
    from app.playground_client import describe_exit

    line = describe_exit({"event": "exited", "signal": 0xC0000005, "log": "loading\n"})
    assert line == (f"The model process was killed by signal {0xC0000005} (unknown signal). "
                    "It loads again with the next prompt.")


# A server deaf to shutdown, to stdin's end and to SIGTERM (as one stuck loading a model), which started a
# process of its own (as a library's helper process); it says "ready" with both pids.
STUCK_SERVER = """
import json, os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(json.dumps({"event": "ready", "pid": os.getpid(), "helper": helper.pid}), flush=True)
time.sleep(120)
"""


def _stuck_server(tmp_path: Path, qtbot, monkeypatch: pytest.MonkeyPatch):
    """A PlaygroundClient that started STUCK_SERVER, its "ready" message, and both processes' identities."""
    import app.playground_client as playground_client

    monkeypatch.setattr(playground_client, "serve_command", lambda *_a: [sys.executable, "-c", STUCK_SERVER])
    client = playground_client.PlaygroundClient(tmp_path / "home")
    said: list[dict] = []
    client.event.connect(said.append)
    client.start("cpu")
    qtbot.waitUntil(lambda: bool(said), timeout=30_000)
    ready = said[0]
    return client, ready, [process.identity(ready["pid"]), process.identity(ready["helper"])]


def _gone(identities) -> bool:
    return all(not process.is_alive(found.pid, found.start_time) for found in identities)


def test_the_server_leads_its_own_process_group_out_of_the_apps(tmp_path: Path, qtbot, monkeypatch) -> None:
    """Ctrl+C in the terminal that started the app goes to the terminal's foreground process group:
    the model server must not be in the app's."""
    client, ready, identities = _stuck_server(tmp_path, qtbot, monkeypatch)
    try:
        assert os.getpgid(ready["pid"]) == ready["pid"] != os.getpgid(0)
        assert os.getsid(ready["pid"]) == ready["pid"]  # no controlling terminal to be hung up with
        assert os.getpgid(ready["helper"]) == ready["pid"]  # what it starts is in its group
    finally:
        assert client.wait_stopped(500)
    qtbot.waitUntil(lambda: _gone(identities), timeout=10_000)  # SIGKILL is delivered, not waited for


@pytest.mark.parametrize("how", ["wait_stopped", "stop"])
def test_a_server_that_does_not_stop_is_killed_with_what_it_started(tmp_path: Path, qtbot, monkeypatch,
                                                                    how: str) -> None:
    """Closing the app (wait_stopped) or unloading (stop, which does not wait) a server that does not
    go within the grace period kills its whole group: nothing is left holding memory."""
    client, _ready, identities = _stuck_server(tmp_path, qtbot, monkeypatch)
    if how == "wait_stopped":
        assert client.wait_stopped(500)
    else:
        client.stop(grace_ms=500)
        assert not client.running
    qtbot.waitUntil(lambda: _gone(identities), timeout=10_000)


def test_on_windows_a_stuck_server_is_killed_with_its_process_tree(windows_like, tmp_path: Path, qtbot,
                                                                   monkeypatch) -> None:
    """SIMULATED Windows (no process groups to signal): the server's tree is killed, children first, by
    TerminateProcess (kill) alone."""
    client, ready, identities = _stuck_server(tmp_path, qtbot, monkeypatch)
    assert client.wait_stopped(500)
    qtbot.waitUntil(lambda: _gone(identities), timeout=10_000)
    assert windows_like.sent and set(windows_like.signals) == {9}, windows_like.sent
    assert windows_like.sent[0][0] == ready["helper"]  # the child first: a leader killed first could start another
