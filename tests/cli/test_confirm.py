"""A delete asks before it removes anything when stdin is a terminal: `Delete ...? [y/N]` on stderr,
anything but y or yes cancels (exit 1, nothing deleted), `--yes` skips the question, and with stdin not
a terminal (a script, CI) it goes ahead unasked as before. `run delete` and `exp delete` deleted a run's
checkpoints, or a whole experiment's, on the first keystroke of Enter."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spark_trainer.store import datasets, experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.conftest import subprocess_env

REPO = Path(__file__).resolve().parents[2]


class Terminal(io.StringIO):
    """stdin as a terminal the user types `answer` into."""

    def isatty(self) -> bool:
        return True


def _stopped_run(store: Store, name: str = "e") -> int:
    if not projects.list_all(store):
        projects.create(store, "p")
    exp = experiments.create(store, project="p", name=name, recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: stopped")
    Path(run.run_dir, "checkpoints").mkdir(parents=True)
    Path(run.run_dir, "checkpoints", "model.safetensors").write_bytes(b"w" * 2**20)
    return run.id


def _typing(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "nope\n"])
def test_on_a_terminal_anything_but_yes_deletes_nothing(cli, store: Store, monkeypatch, answer: str) -> None:
    run_id = _stopped_run(store)
    _typing(monkeypatch, answer)
    said = cli("run", "delete", str(run_id))
    assert (said.code, said.out.strip()) == (1, "nothing deleted")
    assert said.err.startswith(f"Delete run {run_id} and its folder (1.0 MiB)? [y/N] ")
    assert runs.get(store, run_id) and Path(runs.get(store, run_id).run_dir, "checkpoints").is_dir()


def test_on_a_terminal_yes_deletes_and_yes_flag_skips_the_question(cli, store: Store, monkeypatch) -> None:
    first, second = _stopped_run(store, "one"), _stopped_run(store, "two")
    _typing(monkeypatch, "YES\n")
    said = cli("exp", "delete", "one")
    assert said.code == 0 and "Delete experiment 'one' with 1 run and its folder (1.0 MiB)? [y/N]" in said.err
    assert [e.name for e in experiments.list_all(store)] == ["two"]
    _typing(monkeypatch, "")  # nothing typed: a question would be answered "no"
    said = cli("run", "delete", str(second), "-y")
    assert (said.code, said.err) == (0, "")
    assert runs.list_all(store) == [] and first != second


def test_without_a_terminal_it_deletes_unasked_as_scripts_expect(cli, store: Store) -> None:
    run_id = _stopped_run(store)
    said = cli("--json", "run", "delete", str(run_id))  # pytest's stdin is no terminal
    assert (said.code, said.err) == (0, "")
    assert said.json()["removed_folders"] == [str(store.home.runs_dir / str(run_id))]


def test_dataset_delete_asks_too(cli, store: Store, monkeypatch, tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(20)))
    projects.create(store, "p")
    assert cli("dataset", "ingest", str(source), "--project", "p", "--name", "rows").code == 0
    _typing(monkeypatch, "n\n")
    said = cli("dataset", "delete", "rows", "--delete-files")
    assert said.code == 1 and said.err.startswith("Delete dataset 'rows' (20 items) and its folder")
    assert datasets.get(store, "rows")
    experiments.create(store, project="p", name="uses-it", recipe="causal-lm", base_model="m", dataset="rows",
                       config={})
    _typing(monkeypatch, "y\n")
    said = cli("dataset", "delete", "rows")  # refused as before, but before asking: no question answered in vain
    assert (said.code, said.err) == (2, "error: dataset 'rows' is used by experiment uses-it; delete it first or "
                                        "pass --force\n")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
def test_a_real_terminal_is_asked_and_json_stays_clean_on_stdout(store: Store) -> None:
    """The command in its own process with a pseudo-terminal for stdin, stdout a pipe: the question
    goes to stderr, the answer is read from the terminal, stdout is one JSON document."""
    _stopped_run(store, "kept")
    gone = _stopped_run(store, "gone")

    def typed(answer: str, *args: str) -> subprocess.CompletedProcess[str]:
        user, terminal = os.openpty()
        try:
            os.write(user, answer.encode())
            return subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(store.home.root), *args],
                                  stdin=terminal, capture_output=True, text=True, timeout=60,
                                  env=subprocess_env(PYTHONPATH=str(REPO)), cwd=REPO)
        finally:
            os.close(user)
            os.close(terminal)

    refused = typed("n\n", "--json", "exp", "delete", "kept")
    assert refused.returncode == 1 and "Delete experiment 'kept' with 1 run and its folder" in refused.stderr
    assert json.loads(refused.stdout) == {"deleted": False}
    done = typed("y\n", "--json", "exp", "delete", "gone")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed_folders"] == [str(store.home.runs_dir / str(gone))]
    assert [e.name for e in experiments.list_all(store)] == ["kept"]
