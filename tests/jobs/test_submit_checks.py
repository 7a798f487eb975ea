"""Submitting (issue 14, items 7 and 9): the base model is checked before a run exists, `train`
reports rejected lines, and two `train` of the same file at once both succeed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from spark_trainer.store import datasets, experiments, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.conftest import spark_trainer_exe, subprocess_env
from tests.jobs.conftest import hold_the_only_slot


def test_train_reports_rejected_lines_and_checks_the_model_first(store: Store, cli, run_file, tmp_path) -> None:
    data = tmp_path / "rows.jsonl"
    good = [json.dumps({"text": f"row {i} " * 5}) for i in range(30)]
    data.write_text("\n".join(good[:10] + ["{not json", "also not json"] + good[10:]) + "\n")
    path = run_file("rej", steps=1)
    spec = yaml.safe_load(path.read_text())
    spec["dataset"] = str(data)

    for model, why in ((tmp_path / "nowhere", "does not exist"), (tmp_path, "has no config.json")):
        spec["base_model"] = str(model)
        path.write_text(yaml.safe_dump(spec))
        refused = cli("train", str(path))
        assert refused.code == 2 and refused.err.count("\n") == 1
        assert refused.err.startswith(f"error: base_model: {model} {why}")
    assert runs.list_all(store) == [] and datasets.list_all(store) == []  # nothing recorded

    spec["base_model"] = yaml.safe_load(run_file("rej", steps=1).read_text())["base_model"]
    spec["train"]["max_steps"] = 1
    path.write_text(yaml.safe_dump(spec))
    hold_the_only_slot(store)  # the run stays queued: no worker is started only to be cancelled
    queued = cli("--json", "train", str(path), "--gpus", "cpu")
    assert queued.code == 0, queued.err
    assert "2 lines rejected" in queued.err
    assert "rows.jsonl:11: " in queued.err and "rows.jsonl:12: " in queued.err
    assert runs.get(store, queued.json()["id"]).status == RunStatus.QUEUED


def test_two_trains_of_the_same_file_at_once_both_succeed(home: Path, run_file) -> None:
    path = run_file("twice", steps=1)
    with Store.open(home) as store:
        hold_the_only_slot(store)  # both runs stay queued: no worker is started only to be cancelled
    exe = spark_trainer_exe()
    procs = [subprocess.Popen([exe, "--home", str(home), "--json", "train", str(path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=subprocess_env()) for _ in range(2)]
    outs = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert all(code == 0 for code, _, _ in outs), outs
    with Store.open(home) as store:
        assert len(datasets.list_all(store)) == 1
        assert sorted(e.name for e in experiments.list_all(store)) == ["e", "twice"]  # the slot's holder's, one
        found = [run for run in runs.list_all(store) if run.experiment == "twice"]
        assert len(found) == 2 and found[0].experiment_id == found[1].experiment_id
        assert {run.status for run in found} == {RunStatus.QUEUED}


def test_a_run_file_without_gpus_takes_the_default_gpus_setting(store: Store, run_file) -> None:
    """Settings' Default GPUs was stored and shown but read by nothing: every run file without `gpus:`
    trained on `auto`."""
    from spark_trainer.config import load_config
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import settings

    settings.set_value(store, "default_gpus", "cpu:2")
    path = run_file("defaulted", steps=1)
    spec = yaml.safe_load(path.read_text())
    del spec["gpus"]
    path.write_text(yaml.safe_dump(spec))
    defaulted = submit_config(store, load_config(path), machine=[])
    assert defaulted.run.requested_gpus == "cpu:2"
    assert yaml.safe_load((store.home.run_dir(defaulted.run.id) / "config.yaml").read_text())["gpus"] == "cpu:2"

    spec["gpus"] = "auto"  # said in the file: the file wins
    path.write_text(yaml.safe_dump(spec))
    assert submit_config(store, load_config(path), machine=[]).run.requested_gpus == "auto"
    assert submit_config(store, load_config(path), machine=[], gpus="cpu").run.requested_gpus == "cpu"  # --gpus


def test_an_experiment_created_without_gpus_starts_on_the_default_gpus_setting(store, cli, run_file) -> None:
    """`exp create` stored the whole config, gpus: auto included, so `run start` never read the setting."""
    from spark_trainer.jobs.submit import submit_experiment
    from spark_trainer.store import settings
    from tests.jobs.conftest import DEMO_DATA

    path = run_file("made", steps=1)
    spec = yaml.safe_load(path.read_text())
    del spec["gpus"]
    assert cli("project", "create", "jobs").code == 0
    assert cli("dataset", "ingest", str(DEMO_DATA), "--project", "jobs", "--name", "chat").code == 0
    spec["dataset"] = "chat"
    path.write_text(yaml.safe_dump(spec))
    made = cli("exp", "create", "--config", str(path))
    assert made.code == 0, made.err
    settings.set_value(store, "default_gpus", "cpu:2")
    assert submit_experiment(store, "made", machine=[]).run.requested_gpus == "cpu:2"
    assert submit_experiment(store, "made", machine=[], gpus="cpu").run.requested_gpus == "cpu"  # --gpus wins


def test_gpus_stored_before_empty_ids_were_refused_still_place_runs(store: Store, run_file, experiment) -> None:
    """'0,,1' was accepted (and stored as typed) until parse_request refused an empty id; the refusal
    then reached stored values: every submit without `gpus:` blamed the run file, the scheduler left the
    queued run 'cannot be placed', the worker failed it. Stored values are read as before (empty ids
    dropped); what the user types now is still refused."""
    from spark_trainer.config import load_config
    from spark_trainer.errors import BadInput
    from spark_trainer.jobs import gpus as gpu_alloc
    from spark_trainer.jobs.scheduler import make_picker
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import settings
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:  # as an older version stored it
        session.add(SettingRow(key="default_gpus", value="0,,1", updated_at=utcnow()))
    old_run = runs.create(store, experiment.id, requested_gpus="0,,1")
    assert {r.id: r.gpus for r in runs.claim(store, make_picker([0, 1, 2], 8, False))} == {old_run.id: [0, 1]}
    assert gpu_alloc.world_size(gpu_alloc.parse_request(runs.get(store, old_run.id).requested_gpus), [0, 1]) == 2

    path = run_file("defaulted", steps=1)
    spec = yaml.safe_load(path.read_text())
    del spec["gpus"]
    path.write_text(yaml.safe_dump(spec))
    assert submit_config(store, load_config(path), machine=[0, 1]).run.requested_gpus == "0,1"

    spec["gpus"] = "0,,1"
    path.write_text(yaml.safe_dump(spec))
    for flag in ("0,,1", None):  # --gpus, then the run file's gpus:
        with pytest.raises(BadInput, match="empty GPU id"):
            submit_config(store, load_config(path), machine=[0, 1], gpus=flag)
    with pytest.raises(BadInput, match="setting default_gpus: '0,,1' has an empty GPU id"):
        settings.set_value(store, "default_gpus", "0,,1")
