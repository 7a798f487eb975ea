"""The command contract: JSON output, exit codes 0/1/2, one-line errors, nothing changed on bad input."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from spark_trainer.store import datasets
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.store import Store
from tests.conftest import spark_trainer_exe


def _dump(home: Path) -> list:
    """Every row of every table, to prove a failed command changed nothing."""
    db = sqlite3.connect(home / "sparktrainer.db")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    rows = [(t, db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()) for t in tables]
    db.close()
    return rows


def _one_line_error(err: str) -> None:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err


def test_project_create_list_and_duplicate(home: Path) -> None:
    exe = spark_trainer_exe()
    created = subprocess.run([exe, "--home", str(home), "project", "create", "demo", "--json"],
                             capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    import json

    assert json.loads(created.stdout)["name"] == "demo"
    listed = subprocess.run([exe, "--home", str(home), "project", "list", "--json"], capture_output=True, text=True)
    assert [p["name"] for p in json.loads(listed.stdout)] == ["demo"]
    again = subprocess.run([exe, "--home", str(home), "project", "create", "demo"], capture_output=True, text=True)
    assert again.returncode == 2
    _one_line_error(again.stderr)
    assert "'demo' already exists" in again.stderr


def test_names_or_ids_are_accepted(cli) -> None:
    created = cli("--json", "project", "create", "alpha").json()
    by_id = cli("--json", "project", "show", str(created["id"])).json()
    by_name = cli("--json", "project", "show", "alpha").json()
    assert by_id == by_name


def _seed(cli, home: Path) -> None:
    cli("project", "create", "demo")
    with Store.open(home) as store:
        datasets.create(store, "demo", NewDataset(name="texts", kind="text", path=str(home / "datasets" / "1")))


def test_exp_create_from_flags_and_set(cli, home: Path) -> None:
    _seed(cli, home)
    result = cli("--json", "exp", "create", "--project", "demo", "--recipe", "causal-lm", "--dataset", "texts",
                 "--base-model", "models/tiny", "--name", "first", "--set", "train.learning_rate=1e-4")
    assert result.code == 0, result.err
    config = result.json()["config"]
    assert config["train"]["learning_rate"] == pytest.approx(1e-4)
    assert config["recipe_config"]["lora_r"] == 16  # recipe defaults filled in
    shown = cli("exp", "show", "first")
    assert "learning_rate: 0.0001" in shown.out


BAD_INPUTS = [
    (["project", "show", "999"], 2, "no project named or numbered '999'"),
    (["exp", "show", "nope"], 2, "no experiment named or numbered 'nope'"),
    (["dataset", "show", "42"], 2, "no dataset named or numbered '42'"),
    (["exp", "create", "--project", "demo", "--recipe", "warp-drive", "--dataset", "texts", "--base-model", "m",
      "--name", "x"], 2, "recipe: unknown recipe 'warp-drive'"),
    (["exp", "create", "--project", "demo", "--recipe", "causal-lm", "--dataset", "texts", "--base-model", "m",
      "--name", "x", "--set", "train.batch_size=eight"], 2, "train.batch_size: got 'eight'"),
    (["exp", "create", "--project", "demo", "--recipe", "causal-lm", "--dataset", "texts", "--base-model", "m",
      "--name", "x", "--set", "train.learning_rate=-1"], 2, "train.learning_rate: got -1"),
    (["exp", "create", "--project", "demo", "--recipe", "causal-lm", "--dataset", "missing", "--base-model", "m",
      "--name", "x"], 2, "no dataset named or numbered 'missing'"),
    (["recipes", "nope"], 2, "unknown recipe 'nope'"),
    (["project", "delete", "demo"], 2, "refusing to delete project 'demo'"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUTS, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _, _) in enumerate(BAD_INPUTS)])
def test_bad_input_exits_with_one_line_and_changes_nothing(cli, home: Path, args, code, message) -> None:
    _seed(cli, home)
    before = _dump(home)
    result = cli(*args)
    assert result.code == code, result.err
    _one_line_error(result.err)
    assert message in result.err
    assert _dump(home) == before


def test_malformed_yaml_names_the_line(cli, home: Path, tmp_path: Path) -> None:
    _seed(cli, home)
    bad = tmp_path / "run.yaml"
    bad.write_text("project: demo\nname: x\nrecipe: causal-lm\n  base_model: m\n")
    before = _dump(home)
    result = cli("exp", "create", "--config", str(bad))
    assert result.code == 2
    _one_line_error(result.err)
    assert "run.yaml line 4" in result.err
    assert _dump(home) == before


def test_non_writable_home_is_a_clear_error(tmp_path: Path, cli) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cli("--home", str(blocker / "home"), "project", "list", use_home=False)
    assert result.code == 2
    _one_line_error(result.err)
    # It said "data home <blocker>/home is not writable: Not a directory": a file is in the way.
    assert result.err == f"error: data home {blocker / 'home'} cannot be made: {blocker} is a file, not a folder\n"


def test_debug_shows_traceback(cli) -> None:
    result = cli("--debug", "project", "show", "nothing")
    assert result.code == 2 and "Traceback" in result.err


def test_delete_project_keeps_files_unless_asked(cli, home: Path) -> None:
    _seed(cli, home)
    folder = home / "datasets" / "1"
    folder.mkdir(parents=True)
    (folder / "manifest.jsonl").write_text("{}\n")
    kept = cli("--json", "project", "delete", "demo", "--yes")
    assert kept.code == 0 and kept.json()["kept_folders"] == [str(folder)]
    assert folder.exists() and cli("--json", "project", "list").json() == []
    _seed(cli, home)
    removed = cli("--json", "project", "delete", "demo", "--yes", "--delete-files")
    assert removed.json()["removed_folders"] == [str(folder)] and not folder.exists()


def test_gpus_without_nvidia_says_so(cli) -> None:
    from spark_trainer.gpu import list_gpus

    if list_gpus():
        pytest.skip("this machine has NVIDIA GPUs")
    result = cli("gpus")
    assert result.code == 0 and "no NVIDIA GPU found" in result.out
    assert cli("--json", "gpus").json() == []


def test_doctor_reports_the_essentials(cli) -> None:
    report = cli("--json", "doctor").json()
    assert report["schema_revision"] == report["schema_head"]
    assert report["torch"]["installed"] and report["python"]
    assert report["disk_free_bytes"] > 0
    text = cli("doctor").out
    for label in ("Python", "torch", "GPUs", "data home", "disk free", "database"):
        assert label in text
