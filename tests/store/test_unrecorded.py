"""Folders in runs/ and exports/ (and datasets/) that no record names: what a killed `run delete` leaves."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import experiments, exports, projects, runs, unrecorded
from spark_trainer.store.store import Store


def _run_with_export(store: Store, experiment_id: int) -> tuple[Path, Path]:
    run = runs.create(store, experiment_id, requested_gpus="cpu")
    Path(run.run_dir, "checkpoints").mkdir(parents=True)
    made = store.home.export_dir(exports.next_id(store))
    made.mkdir(parents=True)
    (made / "model.safetensors").write_bytes(b"w" * 100)
    exports.add(store, run.id, step=1, options={}, path=str(made))
    return Path(run.run_dir), made


def test_a_run_whose_record_went_before_its_folders_is_found_with_its_export(store: Store) -> None:
    """`run delete` killed after the records went: `runs/1` (half removed) and `exports/1` stayed, and
    doctor, which looked in datasets/ only, said nothing of them."""
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    gone_run, gone_export = _run_with_export(store, exp.id)
    kept_run, kept_export = _run_with_export(store, exp.id)
    runs.delete_with_exports(store, 1)  # the records only, as a killed delete leaves them
    (store.home.exports_dir / ".staging-3-@box-1-1-abcd1234").mkdir()  # a process's own: swept, not reported
    found = unrecorded.find(store)
    assert (found.runs, found.exports, found.datasets) == ([gone_run], [gone_export], [])
    assert kept_run.is_dir() and kept_export.is_dir()
    assert [place for place, _ in found.by_place()] == ["runs", "exports"]
