"""The run/train/queue commands: real runs through the CLI, and bad input refused with nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from spark_trainer.jobs.scheduler import machine_gpus
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def test_train_wait_then_inspect_the_run(store: Store, run_file, cli) -> None:
    path = run_file(steps=5, ckpt_every=5)
    result = cli("train", str(path), "--wait")
    assert result.code == 0, result.err
    assert "completed 5 steps" in result.out
    run_id = runs.list_all(store)[0].id

    csv_out = cli("run", "metrics", str(run_id), "--key", "loss", "--csv")
    lines = csv_out.out.strip().splitlines()
    assert lines[0] == "step,key,value,wall_time"
    assert [int(line.split(",")[0]) for line in lines[1:]] == [1, 2, 3, 4, 5]

    shown = cli("--json", "run", "show", str(run_id)).json()
    assert shown["run"]["status"] == "completed"
    assert [e["to_status"] for e in shown["events"]] == ["queued", "starting", "running", "completed"]
    assert "completed" in cli("run", "logs", str(run_id)).out
    listed = cli("--json", "run", "list", "--status", "completed").json()
    assert [r["id"] for r in listed] == [run_id]

    # The same run file again reuses the ingested dataset instead of ingesting it twice.
    again = cli("--json", "train", str(path))
    assert again.code == 0, again.err
    assert "ingested" not in again.err
    assert len({e.dataset_id for e in experiments.list_all(store)}) == 1
    # Following the log of a live run prints lines as they come and returns when the run ends.
    followed = cli("run", "logs", str(again.json()["id"]), "--follow")
    assert followed.code == 0 and "completed: completed 5 steps" in followed.out
    assert runs.get(store, again.json()["id"]).status == RunStatus.COMPLETED


def test_train_wait_exits_1_when_the_run_fails(store: Store, run_file, cli, tmp_path: Path) -> None:
    path = run_file(steps=3)
    data = yaml.safe_load(path.read_text())
    broken = tmp_path / "broken-model"  # passes the submit check (config.json, a tokenizer file), fails in the worker
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    (broken / "tokenizer_config.json").write_text("{}")
    data["base_model"] = str(broken)
    path.write_text(yaml.safe_dump(data))
    result = cli("train", str(path), "--wait")
    assert result.code == 1
    assert "ended failed" in result.out
    run = runs.list_all(store)[0]
    assert run.status == RunStatus.FAILED and run.error


def _completed_run(store: Store):
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, to, "test")
    return run


def test_bad_input_is_refused_with_nothing_changed(store: Store, run_file, cli, tmp_path: Path) -> None:
    done = _completed_run(store)
    before = len(runs.events(store, done.id))
    result = cli("run", "resume", str(done.id))
    assert result.code == 2 and "is completed" in result.err
    assert runs.get(store, done.id).status == RunStatus.COMPLETED
    assert len(runs.events(store, done.id)) == before

    result = cli("run", "cancel", "4242")
    assert result.code == 2 and "no run with id '4242'" in result.err

    path = run_file(name="nodata")
    data = yaml.safe_load(path.read_text())
    data["dataset"] = str(tmp_path / "missing.jsonl")
    path.write_text(yaml.safe_dump(data))
    result = cli("train", str(path))
    assert result.code == 2
    assert "dataset:" in result.err and "missing.jsonl does not exist" in result.err

    too_high = len(machine_gpus()) + 3
    result = cli("train", str(run_file(name="gpu")), "--gpus", f"{too_high},")
    assert result.code == 2 and f"GPU {too_high} requested but this machine has" in result.err

    assert [r.id for r in runs.list_all(store)] == [done.id]
    assert [p.name for p in projects.list_all(store)] == ["p"]


def test_queue_serve_until_idle_starts_queued_runs(store: Store, run_file, cli) -> None:
    from spark_trainer.config import load_config
    from spark_trainer.jobs.submit import submit_config

    path = run_file(steps=3, ckpt_every=3)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    result = cli("--json", "queue", "serve", "--interval", "0.5", "--until-idle")
    assert result.code == 0, result.err
    assert json.loads(result.out)["started"] == [run.id]
    assert runs.get(store, run.id).status == RunStatus.COMPLETED


def test_run_start_trains_an_existing_experiment(store: Store, run_file, cli) -> None:
    from spark_trainer.config import load_config
    from spark_trainer.ingest import ingest_paths

    config = load_config(run_file(steps=3, ckpt_every=3))
    projects.create(store, config.project)
    dataset = ingest_paths(store, [Path(config.dataset)], project=config.project).dataset
    experiments.create(store, project=config.project, name="from-exp", recipe=config.recipe,
                       base_model=config.base_model, dataset=dataset.id, config=config.model_dump(mode="json"))
    result = cli("--json", "run", "start", "from-exp", "--gpus", "cpu", "--wait")
    assert result.code == 0, result.err
    run = result.json()
    assert run["status"] == "completed" and run["step"] == 3 and run["experiment"] == "from-exp"
