"""Push an export to a local Hub stand-in through the real CLI (a subprocess, HF_ENDPOINT pointing at it):
the repo id, privacy flag and files arrive; with nothing listening the command fails in one line with
exit 1 and the export stays; re-running uploads without exporting again; the token is never on disk."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from spark_trainer.store import exports
from spark_trainer.store.store import Store
from tests.export.hub_server import FakeHub

TOKEN = "hf_testtokenABCDEF0123456789xyz"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _export_cli(home: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=endpoint, HF_TOKEN=TOKEN, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               HF_HOME=str(home.parent / "hf-home"))
    return subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), "export", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_push_failure_keeps_the_export_and_a_rerun_uploads_it(lora_run, capsys) -> None:
    from spark_trainer.cli.main import main

    home, run = lora_run
    assert main(["--home", str(home), "export", str(run.id), "--dtype", "fp32"]) == 0
    with Store.open(home) as store:
        before = exports.list_for(store, run.id)
    folder = Path(before[0].path)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    dead = f"http://127.0.0.1:{_free_port()}"
    failed = _export_cli(home, dead, str(run.id), "--dtype", "fp32", "--push", "me/tiny-lora")
    assert failed.returncode == 1, failed.stderr
    error_lines = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "Traceback" not in failed.stderr
    assert f"cannot reach {dead.removeprefix('http://')}" in error_lines[0] and "export is kept" in error_lines[0]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == files

    with FakeHub() as hub:
        pushed = _export_cli(home, hub.url, str(run.id), "--dtype", "fp32", "--push", "me/tiny-lora",
                             "--private", "--json")
    assert pushed.returncode == 0, pushed.stderr
    doc = json.loads(pushed.stdout)
    assert doc["reused"] is True and doc["pushed"]["url"] == f"{hub.url}/me/tiny-lora"
    assert hub.received.created == [{"name": "tiny-lora", "organization": "me", "visibility": "private",
                                      "type": "model"}]
    assert len(hub.received.commits) == 1
    commit = hub.received.commits[0]
    assert commit["repo"] == "me/tiny-lora" and sorted(commit["files"]) == files
    assert commit["files"]["adapter_model.safetensors"] == (folder / "adapter_model.safetensors").stat().st_size
    assert hub.received.auth == {f"Bearer {TOKEN}"}
    # huggingface_hub also asks for an optional registry (user-agent detection); failures there are ignored.
    assert [u for u in hub.received.unknown if not u.startswith("GET /api/agent-harnesses")] == []
    with Store.open(home) as store:
        after = exports.list_for(store, run.id)
    assert len(after) == len(before) and after[0].hub_url == f"{hub.url}/me/tiny-lora"
    assert after[0].hub_repo == "me/tiny-lora" and after[0].pushed_at is not None

    # The token went to the server and nowhere under the data home (database, WAL, logs, exports).
    for path in home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in failed.stderr + pushed.stderr + pushed.stdout


def test_a_push_without_a_token_names_the_command_that_saves_one(tmp_path, monkeypatch) -> None:
    """The line named only the app's Settings, which a user pushing from a terminal (or a box with no
    display) cannot open; it now names `spark-trainer token set` too."""
    import pytest

    from spark_trainer.errors import OperationFailed
    from spark_trainer.export.hub import push_folder

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    (tmp_path / "README.md").write_text("card")
    with pytest.raises(OperationFailed) as failed:
        push_folder(tmp_path, "me/tiny-lora")
    assert "`spark-trainer token set`" in str(failed.value) and "HF_TOKEN" in str(failed.value)
