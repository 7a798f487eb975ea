"""Honest command-line plumbing (issue 14, item 9): quiet broken pipes, JSON error documents,
validated numbers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from spark_trainer.store.store import Store
from tests.conftest import spark_trainer_exe, subprocess_env


def _sh(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                          env=subprocess_env(), timeout=120)


def test_output_piped_into_head_exits_quietly(home: Path) -> None:
    exe = spark_trainer_exe()
    with Store.open(home) as store:  # long rows, so the output (~400 kB) is several times a pipe buffer
        from spark_trainer.store import projects

        for i in range(1600):
            projects.create(store, f"project-{i:04d}-" + "x" * 180)
    done = _sh(f"{exe} --home {home} project list | head -1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ID") and done.stderr == ""


def test_json_failures_print_a_json_error_document(cli) -> None:
    missing = cli("--json", "run", "show", "99")
    assert missing.code == 2 and missing.err.startswith("error: no run with id '99'")
    assert missing.json() == {"error": "no run with id '99'; see `spark-trainer run list`", "code": 2}
    usage = cli("--json", "run", "logs", "1", "--tail", "-5")
    assert usage.code == 2 and usage.err.count("\n") == 1
    assert usage.json()["code"] == 2 and "--tail" in usage.json()["error"]


def test_numeric_options_are_validated(cli) -> None:
    for args in (("run", "logs", "1", "--tail", "-5"), ("run", "cancel", "1", "--grace", "-1"),
                 ("queue", "serve", "--interval", "0"), ("run", "logs", "1", "--tail", "many")):
        result = cli(*args)
        assert result.code == 2 and result.err.count("\n") == 1, args
        assert "is not a" in result.err, result.err
