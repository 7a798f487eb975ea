"""The model-serving worker as a real process: load once, stream answers, cancel, go away when idle
or when the scheduler places a training run on its GPU."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from spark_trainer.playground import servers
from spark_trainer.playground.server import serve_command
from tests.playground.trained import TRAINING_PROMPT, TrainedRun

# The tests start model servers (each imports torch and loads the model) and may be the first to ask
# for the session's tiny run (tests/conftest.py); on a loaded shared machine the wall time can pass
# the suite's 600 s default.
pytestmark = pytest.mark.timeout(1800)



class ServerProcess:
    """The test's end of the protocol: requests on stdin, events read by a thread."""

    def __init__(self, home: Path, *, device: str = "cpu", idle_s: float = 600, gpus: str = "") -> None:
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpus}
        self.proc = subprocess.Popen(serve_command(home, device, idle_s), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.events: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events.put({**json.loads(line), "_t": time.monotonic()})

    def send(self, **message) -> None:
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def next(self, timeout: float = 240) -> dict:
        return self.events.get(timeout=timeout)

    def until(self, event: str, timeout: float = 240) -> list[dict]:
        """Events up to and including the first `event`."""
        seen = []
        while True:
            seen.append(self.next(timeout))
            if seen[-1]["event"] == event:
                return seen

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def server(trained: TrainedRun):
    started = []

    def start(**kwargs) -> ServerProcess:
        started.append(ServerProcess(trained.home, **kwargs))
        return started[-1]

    yield start
    for proc in started:
        proc.close()


def test_streams_keeps_the_model_cancels_and_unloads_when_idle(trained: TrainedRun, server) -> None:
    srv = server(idle_s=3)
    ready = srv.next()
    assert ready["event"] == "ready" and ready["device"] == "cpu"
    assert [s.pid for s in servers.live(trained.home)] == [ready["pid"]]

    srv.send(op="load", id=1, run=trained.run_id, checkpoint="last")
    greedy = {"temperature": 0, "max_new_tokens": 16}
    srv.send(op="generate", id=2, variant="tuned", inputs={"prompt": TRAINING_PROMPT}, settings=greedy)
    srv.send(op="generate", id=3, variant="base", inputs={"prompt": TRAINING_PROMPT}, settings=greedy)
    loaded = srv.next()
    assert loaded["event"] == "loaded" and loaded["source"]["kind"] == "final" and loaded["memory_bytes"] > 0
    assert loaded["chat_template"] is True  # the tiny model's tokenizer ships one
    tuned = srv.until("done")
    chunks = [e for e in tuned if e["event"] == "chunk"]
    assert len(chunks) >= 2, "the answer came in one piece, not streamed"
    assert "".join(c["text"] for c in chunks) == tuned[-1]["output"]["text"]
    assert chunks[0]["_t"] < tuned[-1]["_t"]  # the first text arrived before generation ended
    base = srv.until("done")
    assert base[-1]["variant"] == "base" and base[-1]["output"]["text"] != tuned[-1]["output"]["text"]

    # The same model again: no second load; a cancelled request still gets its one answer.
    srv.send(op="load", id=4, run=trained.run_id, checkpoint="last")
    assert srv.next()["event"] == "loaded"
    srv.send(op="generate", id=5, variant="tuned", inputs={"prompt": TRAINING_PROMPT},
             settings={"max_new_tokens": 4000, "temperature": 1.0})
    srv.send(op="cancel", id=5)
    done = srv.until("done")[-1]
    assert done["id"] == 5 and done["output"]["finish_reason"] == "cancelled"
    assert done["output"].get("tokens", 0) < 4000
    srv.send(op="generate", id=6, variant="tuned", inputs={"prompt": " "}, settings={})
    error = srv.next()
    assert error == {**error, "event": "error", "id": 6, "message": "prompt is empty", "bad_input": True}

    gone = srv.until("unloaded", timeout=60)[-1]
    assert gone["reason"] == "idle for 3 s"
    assert srv.proc.wait(30) == 0
    assert servers.live(trained.home) == []


def test_scheduler_unloads_a_playground_model_from_a_gpu_a_run_needs(trained: TrainedRun, server) -> None:
    from spark_trainer.jobs import control
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.submit import submit_experiment
    from spark_trainer.store import runs
    from spark_trainer.store.store import Store

    # A server given GPU 0 (nothing loaded: this machine may have no GPU; the books are what count).
    srv = server(device="cuda", gpus="0")
    ready = srv.next()
    assert ready["gpus"] == [0]
    info = servers.live(trained.home)[0]
    servers.write(trained.home, servers.ServerInfo(**{**info.__dict__, "memory_bytes": 3 * 2**29}))
    assert servers.gpu_memory(trained.home) == {0: 3 * 2**29}
    with Store.open(trained.home) as store:
        run = submit_experiment(store, runs.get(store, trained.run_id).experiment_id, gpus="0", machine=[0]).run
        assert run.id in schedule_once(store, machine=[0])
        gone = srv.until("unloaded", timeout=30)[-1]
        assert gone["reason"] == f"run {run.id} needs GPU 0" and gone["run_gone"] is False
        assert srv.proc.wait(30) == 0
        notes = [e.reason for e in runs.events(store, run.id)]
        assert "unloaded 1 playground model holding 1.50 GiB on GPU 0" in notes
        control.cancel(store, run.id, grace_s=2)


@pytest.mark.parametrize("what", ["run", "project"])
def test_deleting_the_run_whose_model_is_loaded_unloads_it(tmp_path: Path, server, what: str) -> None:
    """`run delete` (or `project delete`, `exp delete`, which delete its runs) while the playground held
    that run's model: the server kept it (and its memory) for a run that no longer exists, until its idle
    timeout. Deleting a run now asks its servers to unload."""
    from spark_trainer.cli.main import main
    from tests.playground.trained import train_tiny_run

    own = train_tiny_run(tmp_path / "home", steps=4)
    srv = ServerProcess(own.home)
    try:
        srv.next()
        srv.send(op="load", id=1, run=own.run_id, checkpoint="last")
        assert srv.next()["event"] == "loaded"
        command = ["run", "delete", str(own.run_id), "--yes"] if what == "run" else ["project", "delete", "pg", "--yes"]
        assert main(["--home", str(own.home), *command]) == 0
        gone = srv.until("unloaded", timeout=30)[-1]
        assert gone == {**gone, "reason": f"run {own.run_id} was deleted", "run": own.run_id, "run_gone": True}
        assert srv.proc.wait(30) == 0
        assert servers.live(own.home) == []
    finally:
        srv.close()
    again = ServerProcess(own.home)  # a client that still offers the run: its load says the run is gone
    try:
        again.next()
        again.send(op="load", id=1, run=own.run_id, checkpoint="last")
        error = again.next()
        assert error == {**error, "event": "error", "id": 1, "run": own.run_id, "run_gone": True}
    finally:
        again.close()


def test_a_server_asked_to_release_its_gpu_by_the_note_alone_unloads_and_says_why(tmp_path: Path,
                                                                                   windows_like) -> None:
    """Where there is no SIGTERM (Windows, simulated: see tests/conftest.py; os.kill there would be
    TerminateProcess, and the client would get no "unloaded" to show) the server polls its release note."""
    import io

    from spark_trainer.playground.server import Server

    out = io.BytesIO()
    srv = Server(tmp_path, "cuda", [0], idle_s=600, out=out)
    runner = threading.Thread(target=srv.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 10
    while not servers.live(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    watching = srv.watch_release()
    try:
        asked = servers.release(tmp_path, [0], "training run 7 needs GPU 0", wait_s=0.1)
        assert [info.pid for info in asked] == [os.getpid()]
        runner.join(timeout=15)
        assert not runner.is_alive()
    finally:
        watching.set()
        srv.requests.put({"op": "shutdown"})
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[-1] == {"event": "unloaded", "reason": "training run 7 needs GPU 0", "run": None, "run_gone": False}
    assert windows_like.sent == []
    assert servers.live(tmp_path) == []


class _EndlessAnswer:
    """A generator writing a long answer (a big model's 8,192 tokens): a token every few ms until asked
    to stop, or 2,000 of them. After its first token the app's end of stdin closes (the app was killed)."""

    def __init__(self, close_app_end) -> None:
        self.close_app_end = close_app_end

    def generate(self, inputs, settings, *, base, emit, should_stop) -> dict:  # noqa: ANN001
        for n in range(2000):
            if should_stop():
                return {"finish_reason": "stopped", "tokens": n}
            emit("x")
            if n == 0:
                self.close_app_end()
            time.sleep(0.005)
        return {"finish_reason": "length", "tokens": 2000}

    def close(self) -> None:
        pass


def test_an_answer_being_written_stops_when_the_app_goes(tmp_path: Path) -> None:
    """The app killed while its model server writes a long answer: the server must not go on writing
    (holding the GPU) to nobody until the answer is done; it stops at the next token and unloads."""
    import io

    from spark_trainer.playground.server import Server

    read_end, write_end = os.pipe()
    server = Server(tmp_path / "home", "cpu", [], 600, io.BytesIO())
    server.generator = _EndlessAnswer(lambda: os.close(write_end))
    with os.fdopen(read_end, "rb") as stdin:
        reader = threading.Thread(target=server.read_requests, args=(stdin,), daemon=True)
        reader.start()
        answer = server.generate({"op": "generate", "id": 1})
        reader.join(10)
    assert answer["finish_reason"] == "stopped", answer
    assert server.requests.get_nowait()["op"] == "shutdown"  # and then it goes


def test_ctrl_c_is_not_for_the_server(server) -> None:
    """SIGINT (Ctrl+C in a terminal; on Windows the console's Ctrl+C reaches every process attached to it)
    belongs to the app: the server goes when the app tells it or goes, not with a traceback."""
    import signal

    srv = server()
    assert srv.next()["event"] == "ready"
    srv.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)  # delivered before the request below is read, were it to end the process
    srv.send(op="shutdown")
    assert srv.until("unloaded", timeout=60)[-1]["reason"] == "shutdown"
    assert srv.proc.wait(30) == 0


def test_a_server_whose_app_went_stops_quietly_at_its_next_token(tmp_path: Path) -> None:
    """Seen on Xvfb: the app killed while the server wrote an answer left a BrokenPipeError traceback in
    the server's log (the next token's write), and the process ended by that exception. A write nobody
    can read means the app went: the answer stops, the model unloads, the process ends normally."""
    import io

    from spark_trainer.playground.server import Server

    read_end, write_end = os.pipe()
    os.close(read_end)  # the app's end of the server's stdout: gone
    server = Server(tmp_path / "home", "cpu", [], 600, os.fdopen(write_end, "wb"))
    server.generator = _EndlessAnswer(lambda: None)
    server.requests.put({"op": "generate", "id": 1})
    server.requests.put({"op": "shutdown"})
    with contextlib.redirect_stderr(io.StringIO()) as log:
        assert server.run() == 0
    assert server.app_gone and log.getvalue() == "", log.getvalue()
    assert servers.live(tmp_path / "home") == []



@pytest.mark.parametrize("loop", ["stuck", "returns"])
def test_a_server_still_busy_when_the_app_has_gone_ends_itself_after_a_grace(tmp_path: Path, loop: str) -> None:
    """A load nothing can interrupt (a big model: minutes, holding GPU memory) under way when the app
    was killed: the answer-stopping of stdin's end cannot reach it, so the process ends itself once the
    loop has had `grace_s` to unload and return. A loop that returns in time is left to exit as usual."""
    import io

    from spark_trainer.playground.server import Server

    server = Server(tmp_path / "home", "cpu", [], 600, io.BytesIO())
    finished, exits = threading.Event(), []
    watcher = server.exit_when_app_gone(finished, grace_s=0.3, exit=exits.append)
    server.read_requests(io.BytesIO(b""))  # the app's end closed
    if loop == "returns":
        finished.set()
    watcher.join(10)
    assert not watcher.is_alive() and exits == ([0] if loop == "stuck" else [])


def test_a_prompt_past_the_models_context_is_refused_and_the_model_stays_loaded(trained: TrainedRun,
                                                                               server) -> None:
    srv = server()
    assert srv.next()["event"] == "ready"
    srv.send(op="load", id=1, run=trained.run_id, checkpoint="last")
    loaded = srv.next()
    assert loaded["event"] == "loaded" and loaded["context"] == 128
    srv.send(op="generate", id=2, variant="tuned", inputs={"prompt": "word " * 300}, settings={"max_new_tokens": 5})
    error = srv.next()
    assert error["event"] == "error" and error["id"] == 2 and error["bad_input"] is True
    assert error["message"].startswith("the prompt is ") and error["message"].endswith(
        f"run {trained.run_id}'s model takes at most 128 (prompt and answer together)")
    # The base model (random weights, greedy) runs on to the cap.
    srv.send(op="generate", id=3, variant="base", inputs={"prompt": "word"},
             settings={"max_new_tokens": 200, "temperature": 0})
    done = srv.until("done")[-1]  # the same process, the model still loaded: no load request before it
    assert done["id"] == 3 and done["output"]["finish_reason"] == "context"
    assert done["output"]["prompt_tokens"] + done["output"]["tokens"] == 128
    assert done["output"]["note"].startswith("the answer was capped at ")
