"""`run import`: a job folder (written by the real rank-0 reporter, without training) back as a run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from spark_trainer.cluster.reporter import JobFolderReporter
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import artifacts, experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

_EMPTY_SAFETENSORS = b"\x02\x00\x00\x00\x00\x00\x00\x00{}"  # a whole safetensors file holding no tensors


def _rank0(folder: Path, steps: int, *, end: str | None = "completed", checkpoint_at: tuple[int, ...] = ()) -> None:
    """What rank 0 writes for `steps` steps: metrics, a checkpoint folder per `checkpoint_at`, the outcome."""
    run_dir = folder / "run"
    reporter = JobFolderReporter(run_dir, world_size=2)
    reporter.transition("running", "job started")
    reporter.on_start(start_step=0, total_steps=steps)
    for step in range(1, steps + 1):
        reporter.on_metrics(step, {"loss": 5.0 - step / 10, "lr": 1e-3})
        reporter.on_progress(step, steps, 1.0)
        if step in checkpoint_at:
            reporter.flush()
            ckpt = run_dir / "checkpoints" / f"step-{step:08d}"
            ckpt.mkdir(parents=True)
            (ckpt / "state.json").write_text(json.dumps({"step": step}))
            reporter.on_artifact("checkpoint", ckpt, step)
    reporter.flush()
    if end == "completed":
        (run_dir / "final").mkdir()
        (run_dir / "final" / "adapter_model.safetensors").write_bytes(_EMPTY_SAFETENSORS)
        reporter.on_artifact("final", run_dir / "final")
        reporter.transition("completed", f"completed {steps} steps")
    elif end is not None:
        reporter.transition(end, "training failed: BadInput", error="boom")


def _losses(store: Store, run_id: int) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in metrics.read(store, run_id, keys=["loss"]))


def test_import_creates_project_experiment_and_dataset_and_reimport_updates_the_same_run(
        job, cli, tmp_path: Path) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 6, checkpoint_at=(3, 6))
    other = tmp_path / "desktop-home"  # another machine's data home: nothing of the job exists there
    first = cli("--home", other, "--json", "run", "import", folder, use_home=False)
    assert first.code == 0, first.err
    with Store.open(other) as store:
        run = runs.list_all(store)[0]
        assert (run.status, run.step, run.ran_on, run.experiment) == (RunStatus.COMPLETED, 6, "torchrun 2x1", "clus")
        assert _losses(store, run.id) == [(s, pytest.approx(5.0 - s / 10)) for s in range(1, 7)]
        kinds = sorted(a.kind for a in artifacts.list_for(store, run.id))
        assert kinds == ["checkpoint", "checkpoint", "final"]
        assert all(Path(a.path).is_relative_to(run.run_dir) and Path(a.path).exists()
                   for a in artifacts.list_for(store, run.id))
        exp = experiments.get(store, "clus", "cluster")
        assert exp.dataset_id is not None and projects.get(store, "cluster")
        assert "imported from" in runs.events(store, run.id)[-2].reason
    again = cli("--home", other, "run", "import", folder, use_home=False)
    assert again.code == 0 and again.out.startswith(f"updated run {run.id} ")
    with Store.open(other) as store:
        assert [r.id for r in runs.list_all(store)] == [run.id]
        assert len(_losses(store, run.id)) == 6  # replaced, not doubled
    listing = cli("--home", other, "run", "list", use_home=False)
    assert "torchrun 2x1" in listing.out


def test_a_corrupt_or_partial_folder_is_one_line_exit_2_and_imports_nothing(job, cli, tmp_path: Path) -> None:
    folder = job("torchrun", 2, 1)
    other = tmp_path / "desktop-home"
    not_started = cli("--home", other, "run", "import", folder, use_home=False)
    assert not_started.code == 2 and "status.json: missing; the job has not started" in not_started.err
    _rank0(folder, 4)
    lines = (folder / "run" / "metrics.jsonl").read_text().splitlines()
    lines[1] = lines[1][:20]  # a damaged line in the middle of a finished job's metrics
    (folder / "run" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    corrupt = cli("--home", other, "run", "import", folder, use_home=False)
    assert corrupt.code == 2 and "metrics.jsonl: line 2 is not JSON" in corrupt.err
    assert len(corrupt.err.strip().splitlines()) == 1
    (folder / "job.json").unlink()
    partial = cli("--home", other, "run", "import", folder, use_home=False)
    assert partial.code == 2 and "job.json: no job description" in partial.err
    with Store.open(other) as store:
        assert runs.list_all(store) == [] and projects.list_all(store) == []
    leftovers = [p.name for d in ("runs", "datasets") for p in (other / d).iterdir()]
    assert leftovers == []


def test_a_missing_final_model_is_refused(job, cli, tmp_path: Path) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 3)
    (folder / "run" / "final" / "adapter_model.safetensors").unlink()
    (folder / "run" / "final").rmdir()
    result = cli("run", "import", folder)
    assert result.code == 2 and "final 'final' is missing" in result.err


@pytest.mark.parametrize(("damage", "why"), [
    ("truncate", "adapter_model.safetensors is 0 bytes long, too short for a safetensors file"),
    ("remove", "it holds no model weights"),
    ("config", "adapter_config.json is not valid JSON"),
])
def test_a_damaged_final_model_is_refused_before_the_earlier_import_is_replaced(job, cli, store: Store, damage: str,
                                                                                why: str) -> None:
    # Seen: `truncate -s 0 JOB/run/final/adapter_model.safetensors; run import JOB --as-new` imported, and
    # `generate RUN --checkpoint final` then failed.
    folder = job("torchrun", 2, 1)
    _rank0(folder, 3)
    final = folder / "run" / "final"
    (final / "adapter_config.json").write_text('{"r": 4}')
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    if damage == "truncate":
        (final / "adapter_model.safetensors").write_bytes(b"")
    elif damage == "remove":
        (final / "adapter_model.safetensors").unlink()
    else:
        (final / "adapter_config.json").write_text('{"r": ')
    for extra in ((), ("--as-new",)):
        again = cli("run", "import", folder, *extra)
        assert again.code == 2 and again.err.count("\n") == 1, again.err
        assert f"{final}: the job's final model is damaged ({why}" in again.err
    assert [r.id for r in runs.list_all(store)] == [run.id]
    kept = Path(run.run_dir) / "final"
    assert (kept / "adapter_model.safetensors").read_bytes() == _EMPTY_SAFETENSORS
    assert (kept / "adapter_config.json").read_text() == '{"r": 4}'


def test_points_a_resumed_job_rewrote_replace_the_killed_attempts(job, cli, store: Store) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 5, end=None, checkpoint_at=(3,))  # killed at step 5; the checkpoint is at 3
    resumed = JobFolderReporter(folder / "run", world_size=2)
    resumed.resumed_from(3)
    resumed.transition("running", "job started again")
    for step in (4, 5, 6):
        resumed.on_metrics(step, {"loss": 1.0})
    resumed.flush()
    resumed.transition("failed", "training failed", error="disk full")
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    assert run.status == RunStatus.FAILED and run.error == "disk full"
    assert _losses(store, run.id) == [(1, 4.9), (2, 4.8), (3, pytest.approx(4.7)), (4, 1.0), (5, 1.0), (6, 1.0)]


def test_a_job_still_running_stays_running_until_imported_again(job, cli, store: Store) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 2, end=None)  # rank 0 is this very process: alive
    with open(folder / "run" / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 3, "val')  # rank 0 is in the middle of a write: ignored while running
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    assert run.status == RunStatus.RUNNING and run.step == 2
    reconcile(store)  # no local worker, and that is not "lost": it lives on the cluster
    assert runs.get(store, run.id).status == RunStatus.RUNNING
    status = json.loads((folder / "run" / "status.json").read_text())
    status["pid"] = max(os.getpid() + 100000, 4_000_000)  # rank 0 gone without an outcome: killed
    (folder / "run" / "status.json").write_text(json.dumps(status))
    assert cli("run", "import", folder).code == 0
    run = runs.get(store, run.id)
    assert run.status == RunStatus.INTERRUPTED and "gone without an outcome" in run.error


def test_a_failure_inside_the_transaction_leaves_no_rows_and_no_folders(job, cli, tmp_path: Path) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 3)
    other = tmp_path / "desktop-home"
    with Store.open(other) as store:  # an experiment of the same name, another recipe, no dataset
        projects.create(store, "cluster")
        experiments.create(store, project="cluster", name="clus", recipe="text-classification", base_model="m",
                           dataset=None, config={})
    result = cli("--home", other, "run", "import", folder, use_home=False)
    assert result.code == 2 and "uses recipe 'text-classification'" in result.err
    with Store.open(other) as store:
        from spark_trainer.store import datasets

        assert runs.list_all(store) == [] and datasets.list_all(store) == []  # the dataset it registered rolled back
    assert [p.name for d in ("runs", "datasets") for p in (other / d).iterdir()] == []


def test_an_experiment_by_name_exports_again_from_its_stored_config_and_dataset(job, cli, store: Store,
                                                                                tmp_path: Path) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 2)
    assert cli("run", "import", folder).code == 0  # the experiment now exists in this home
    out = tmp_path / "again"
    result = cli("--json", "launch", "clus", "--nodes", 1, "--procs-per-node", 2, "--scheduler", "slurm", "--out", out)
    assert result.code == 0, result.err
    spec = json.loads((out / "job.json").read_text())
    assert (spec["experiment"], spec["project"], spec["nodes"], spec["procs_per_node"]) == ("clus", "cluster", 1, 2)
    dataset_id = experiments.get(store, "clus", "cluster").dataset_id
    assert (out / "data" / "manifest.jsonl").read_bytes() == \
        (store.home.dataset_dir(dataset_id) / "manifest.jsonl").read_bytes()
    assert result.json()["next"] == f"cd {out} && sbatch job.sbatch"


def test_a_run_folder_is_imported_without_pins_or_stagings(tmp_path: Path) -> None:
    """Seen: the job's run folder was copied with `.pinned-*` (an export killed on the cluster left hard
    links to a checkpoint): the import stored that checkpoint twice."""
    from spark_trainer.cluster.importing import _stage_run_folder

    source = tmp_path / "job-run"
    for folder in (source / ".pinned-@node1-5-6-abcd1234" / "step-00000002", source / ".staging-final",
                   source / "checkpoints" / "step-00000002"):
        folder.mkdir(parents=True)
        (folder / "weights.bin").write_bytes(b"x")
    _stage_run_folder(source, tmp_path / "staged")
    assert sorted(str(p.relative_to(tmp_path / "staged")) for p in (tmp_path / "staged").rglob("*")) == [
        "checkpoints", "checkpoints/step-00000002", "checkpoints/step-00000002/weights.bin"]


def _train_here(store: Store, run_id: int, to_step: int) -> Path:
    """What `run extend` leaves on an imported run: events, later metrics, and a checkpoint of its own."""
    from spark_trainer.training.checkpoints import read_identity

    run = runs.transition(store, run_id, RunStatus.QUEUED, f"extended to {to_step} steps")
    runs.transition(store, run_id, RunStatus.STARTING, "worker started")
    runs.transition(store, run_id, RunStatus.RUNNING, "training")
    metrics.add_batch(store, run_id, [("loss", step, 1.0) for step in range(run.step + 1, to_step + 1)])
    ckpt = Path(run.run_dir) / "checkpoints" / f"step-{to_step:08d}"
    ckpt.mkdir()
    (ckpt / "state.json").write_text(json.dumps({"step": to_step, "run_uuid": read_identity(Path(run.run_dir))}))
    artifacts.add(store, run_id, "checkpoint", str(ckpt), step=to_step)
    runs.transition(store, run_id, RunStatus.COMPLETED, f"completed {to_step} steps", step=to_step,
                    total_steps=to_step)
    return ckpt


def test_importing_again_after_training_here_is_refused_and_loses_nothing(job, cli, store: Store) -> None:
    # Seen: `run extend` took an imported run from step 12 to 18; `run import` of the same folder then said
    # "updated run 2", deleted checkpoint step-18 from disk and the metrics, events and artifacts past step 12.
    folder = job("torchrun", 2, 1)
    _rank0(folder, 6, checkpoint_at=(3, 6))
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    ckpt = _train_here(store, run.id, 8)
    events = len(runs.events(store, run.id))
    again = cli("run", "import", folder)
    assert again.code == 2 and again.err.count("\n") == 1, again.err
    assert f"run {run.id} has trained here (steps 7-8, checkpoint step-00000008) since it was imported" in again.err
    assert f"run import {folder} --as-new" in again.err and f"run delete {run.id}" in again.err
    kept = runs.get(store, run.id)
    assert (kept.status, kept.step) == (RunStatus.COMPLETED, 8) and ckpt.is_dir()
    assert [s for s, _ in _losses(store, run.id)] == list(range(1, 9)) and len(runs.events(store, run.id)) == events
    assert [p.name for p in (store.home.runs_dir).iterdir()] == [str(run.id)]  # no staging left behind


def test_as_new_imports_the_job_beside_the_run_trained_here(job, cli, store: Store) -> None:
    from spark_trainer.training.checkpoints import checkpoint_step, list_checkpoints

    folder = job("torchrun", 2, 1)
    _rank0(folder, 6, checkpoint_at=(3, 6))
    assert cli("run", "import", folder).code == 0
    first = runs.list_all(store)[0]
    _train_here(store, first.id, 8)
    result = cli("--json", "run", "import", folder, "--as-new")
    assert result.code == 0, result.err
    assert result.json()["earlier_run"] == first.id and result.json()["updated"] is False
    new = runs.get(store, result.json()["run"]["id"])
    assert new.id != first.id and (new.step, new.experiment) == (6, first.experiment)
    # The copied checkpoints carry the new run's uuid, so it lists (resumes from, exports) them as its own.
    assert [checkpoint_step(p) for p in list_checkpoints(Path(new.run_dir))] == [3, 6]
    assert any(f"run {first.id} holds its earlier import" in e.reason for e in runs.events(store, new.id))
    assert runs.get(store, first.id).step == 8 and [checkpoint_step(p) for p in
                                                     list_checkpoints(Path(first.run_dir))] == [3, 6, 8]


def test_a_second_as_new_names_every_run_holding_an_import_of_the_job(job, cli, store: Store) -> None:
    # Seen: a repeated `--as-new` said "run 2 keeps this job's earlier import" although run 3 held one too.
    folder = job("torchrun", 2, 1)
    _rank0(folder, 3)
    first_id = cli("--json", "run", "import", folder).json()["run"]["id"]
    second_id = cli("--json", "run", "import", folder, "--as-new").json()["run"]["id"]
    third = cli("run", "import", folder, "--as-new")
    assert third.code == 0 and f"runs {first_id} and {second_id} keep this job's earlier imports" in third.out
    newest = max(r.id for r in runs.list_all(store))
    assert any(e.reason.endswith(f": runs {first_id} and {second_id} hold its earlier imports")
               for e in runs.events(store, newest))
    # The run keeping the job's uuid deleted: the `--as-new` runs are still named.
    assert cli("run", "delete", first_id, "--yes").code == 0
    fourth = cli("--json", "run", "import", folder, "--as-new").json()
    assert fourth["earlier_runs"] == [second_id, newest] and fourth["earlier_run"] == newest


def test_importing_again_is_refused_when_a_sample_was_saved_here(job, cli, store: Store) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 3)
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    sample = Path(run.run_dir) / "samples" / "playground-1.json"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text("{}")
    artifacts.add(store, run.id, "sample", str(sample), step=3)
    again = cli("run", "import", folder)
    assert again.code == 2 and f"run {run.id} has saved 1 sample here since it was imported" in again.err
    assert sample.exists()


def test_a_job_checkpoint_missing_its_weights_is_refused_before_the_earlier_import_is_replaced(job, cli,
                                                                                                store: Store) -> None:
    # Seen: `rm run/checkpoints/step-00000012/trainable.safetensors` in a copy of the job folder; importing it
    # said "updated run 2" over the good import, and `run checkpoints` listed step 12 as normal.
    folder = job("torchrun", 2, 1)
    _rank0(folder, 6, checkpoint_at=(3, 6))
    for step in (3, 6):  # a checkpoint's state.json lists the files it was written with
        ckpt = folder / "run" / "checkpoints" / f"step-{step:08d}"
        (ckpt / "trainable.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
        (ckpt / "state.json").write_text(json.dumps({"step": step, "files": ["trainable.safetensors"]}))
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    broken = folder / "run" / "checkpoints" / "step-00000006"
    (broken / "trainable.safetensors").unlink()
    again = cli("run", "import", folder)
    assert again.code == 2 and again.err.count("\n") == 1, again.err
    assert f"{broken}: this checkpoint of the job is incomplete (trainable.safetensors is missing)" in again.err
    assert (Path(run.run_dir) / "checkpoints" / "step-00000006" / "trainable.safetensors").is_file()
    shutil.rmtree(broken)  # what the refusal offers: import the job without that checkpoint
    assert cli("run", "import", folder).code == 0
    assert [a.step for a in artifacts.list_for(store, run.id, "checkpoint")] == [3]


def test_a_resume_here_that_has_not_passed_the_jobs_step_is_named_as_such(job, cli, store: Store) -> None:
    folder = job("torchrun", 2, 1)
    _rank0(folder, 5, end=None, checkpoint_at=(3,))
    status = json.loads((folder / "run" / "status.json").read_text())
    status["pid"] = max(os.getpid() + 100000, 4_000_000)  # killed: imports as interrupted
    (folder / "run" / "status.json").write_text(json.dumps(status))
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    runs.transition(store, run.id, RunStatus.QUEUED, "resume requested")
    runs.transition(store, run.id, RunStatus.CANCELLED, "cancelled while queued")
    again = cli("run", "import", folder)
    assert again.code == 2 and f"run {run.id} has been resumed here (now at step 5) since it was imported" in again.err


def test_steps_retrained_here_after_a_resume_from_an_earlier_checkpoint_are_named(job, cli, store: Store) -> None:
    # Seen: "run 5 has trained here (steps 391-601 ...)" for a run resumed here from checkpoint 380 at step 390.
    from spark_trainer.training.checkpoints import read_identity

    folder = job("torchrun", 2, 1)
    _rank0(folder, 5, end=None, checkpoint_at=(3,))
    status = json.loads((folder / "run" / "status.json").read_text())
    status["pid"] = max(os.getpid() + 100000, 4_000_000)  # killed: imports as interrupted at step 5
    (folder / "run" / "status.json").write_text(json.dumps(status))
    assert cli("run", "import", folder).code == 0
    run = runs.list_all(store)[0]
    runs.transition(store, run.id, RunStatus.QUEUED, "resume requested")
    runs.transition(store, run.id, RunStatus.STARTING, "worker started")
    runs.transition(store, run.id, RunStatus.RUNNING, "training")
    runs.note(store, run.id, f"{runs.RESUMED_FROM}3 (dropped 4 metric points after step 3)")  # what the worker notes
    ckpt = Path(run.run_dir) / "checkpoints" / "step-00000008"
    ckpt.mkdir()
    (ckpt / "state.json").write_text(json.dumps({"step": 8, "run_uuid": read_identity(Path(run.run_dir))}))
    runs.transition(store, run.id, RunStatus.COMPLETED, "completed 8 steps", step=8, total_steps=8)
    again = cli("run", "import", folder)
    assert again.code == 2, again.err
    assert (f"run {run.id} has trained here (steps 4-8 after a resume from checkpoint 3, checkpoint step-00000008)"
            in again.err)
