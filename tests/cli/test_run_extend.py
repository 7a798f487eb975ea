"""`spark-trainer run extend RUN --steps N`: the headless twin of the run view's "Extend by" button."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from spark_trainer.jobs.run_lock import LOCK_NAME
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import write_checkpoint
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture


def _completed_run(store: Store, *, gpus: str, steps: int = 8):
    """A completed run with a frozen config and a checkpoint at its last step (no training)."""
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus=gpus)
    run_dir = Path(run.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"name": "e", "train": {"max_steps": steps}}))
    write_checkpoint(run_dir, steps, {}, {})
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, status, "test", step=steps, total_steps=steps, pid=None)
    return run


def test_extend_queues_the_run_with_a_longer_total(store: Store, cli) -> None:
    # 64 GPUs are never free here, so the run waits in the queue and no worker starts.
    run = _completed_run(store, gpus="count:64")
    result = cli("--json", "run", "extend", str(run.id), "--steps", "12")
    assert result.code == 0, result.err
    shown = result.json()
    assert shown["id"] == run.id and shown["status"] == "queued" and shown["total_steps"] == 20
    # The same record `run show --json` prints for a run.
    assert set(shown) == set(cli("--json", "run", "show", str(run.id)).json()["run"])
    assert yaml.safe_load((Path(run.run_dir) / "config.yaml").read_text())["train"]["max_steps"] == 20
    assert "extended by 12 steps: 8 -> 20" in runs.events(store, run.id)[-1].reason

    text = cli("run", "show", str(run.id))
    assert "8/20" in text.out


def test_steps_must_be_a_positive_whole_number(store: Store, cli) -> None:
    run = _completed_run(store, gpus="count:64")
    before = len(runs.events(store, run.id))
    for steps in ("0", "-3", "many", "2.5"):
        result = cli("run", "extend", str(run.id), "--steps", steps)
        assert result.code == 2 and result.err.count("\n") == 1, result.err
        assert "--steps" in result.err and "is not a whole number >= 1" in result.err
    assert runs.get(store, run.id).status == RunStatus.COMPLETED
    assert len(runs.events(store, run.id)) == before


def test_refuses_runs_that_cannot_be_extended(store: Store, cli) -> None:
    run = _completed_run(store, gpus="count:64")
    missing = cli("--json", "run", "extend", "999", "--steps", "5")
    assert missing.code == 2 and missing.err.count("\n") == 1
    assert missing.json() == {"error": "no run with id '999'; see `spark-trainer run list`", "code": 2}
    assert cli("run", "extend", str(run.id), "--steps", "3").code == 0  # now queued, not completed
    again = cli("run", "extend", str(run.id), "--steps", "3")
    assert again.code == 2 and again.err.count("\n") == 1
    assert "only a completed run can be extended" in again.err
    assert runs.get(store, run.id).total_steps == 11
    # A cancelled run: it said "resume a paused or interrupted one instead", leaving out the cancelled run
    # that `run resume` does take.
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: cancelled")
    cancelled = cli("run", "extend", str(run.id), "--steps", "3")
    assert cancelled.err == (f"error: run {run.id} is cancelled; only a completed run can be extended (resume it "
                             f"instead: `spark-trainer run resume {run.id}`)\n")
    usage = cli("run", "extend", str(run.id))
    assert usage.code == 2 and "--steps" in usage.err and usage.err.count("\n") == 1


def test_help_says_what_it_does(cli) -> None:
    result = cli("run", "extend", "--help")
    assert result.code == 0
    assert "--steps N" in result.out and "completed run" in result.out and "last checkpoint" in result.out


@pytest.mark.slow
def test_a_real_run_extended_from_the_cli_trains_the_extra_steps(store: Store, cli, tmp_path: Path) -> None:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(tmp_path / "tiny", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2)
    data = Path(__file__).resolve().parents[2] / "resources" / "demo" / "train.jsonl"
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump({
        "project": "cli", "name": "tiny", "recipe": "causal-lm", "base_model": str(model), "dataset": str(data),
        "gpus": "cpu", "train": {"max_steps": 4, "batch_size": 4, "seq_len": 64, "learning_rate": 1e-3},
        "recipe_config": {"method": "lora", "lora_r": 4},
        "eval": {"every_steps": None, "val_fraction": 0.1, "max_batches": 1},
        "checkpoint": {"every_steps": 4, "keep": 2},
    }))
    assert cli("train", str(run_file), "--wait").code == 0
    run_id = runs.list_all(store)[0].id
    result = cli("--json", "run", "extend", str(run_id), "--steps", "3", "--wait")
    assert result.code == 0, result.err
    assert result.json()["status"] == "completed" and result.json()["step"] == 7
    assert [int(line.split(",")[0]) for line in
            cli("run", "metrics", str(run_id), "--key", "loss", "--csv").out.splitlines()[1:]] == list(range(1, 8))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs is Linux")
def test_an_extend_on_a_full_disk_names_the_file_it_could_not_write(home: Path, cli, tmpfs) -> None:  # noqa: F811
    """The write of the kept config failed with an OSError carrying no file name (a full disk fails at
    the write, not the open): the line was 'I/O error on: No space left on device'. It names the file."""
    full = tmpfs(home / "runs", 64 * 2**20)
    with Store.open(home) as store:
        run = _completed_run(store, gpus="count:64")
    before = {p.name: p.read_bytes() for p in Path(run.run_dir).iterdir() if p.is_file()}
    fill(full)
    result = cli("run", "extend", str(run.id), "--steps", "4")
    assert result.code == 1, result.err
    backup = Path(run.run_dir) / "config.before-extend-8.yaml"
    assert result.err == f"error: I/O error on {backup}: No space left on device\n", result.err
    after = {p.name: p.read_bytes() for p in Path(run.run_dir).iterdir() if p.is_file() and p.name != LOCK_NAME}
    assert after == before  # nothing half-written, no .tmp left beside it
