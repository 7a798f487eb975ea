"""Export as cluster job: the button on the experiment setup form, the dialog, the folder it writes."""

from __future__ import annotations

import json
from pathlib import Path

from app.workers import pending
from tests.jobs.conftest import DEMO_DATA


def _form_config(model: Path) -> dict:
    return {"project": "cluster-gui", "name": "gui-job", "recipe": "causal-lm", "base_model": str(model),
            "dataset": str(DEMO_DATA), "gpus": "cpu",
            "train": {"max_steps": 4, "batch_size": 2, "learning_rate": 1e-3},
            "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 64}}


def test_export_as_cluster_job_writes_the_folder_the_command_would(window, qtbot, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    view = window.show_view("experiments")
    view.set_config(_form_config(model))
    qtbot.waitUntil(lambda: view.config_data()["name"] == "gui-job", timeout=5000)
    dialog = view.open_cluster_export()
    qtbot.addWidget(dialog)
    assert dialog.config["name"] == "gui-job" and dialog.world.text().startswith("2 rank(s) in all, CPU processes")
    assert not dialog.partition.isEnabled()  # slurm-only fields
    dialog.start()  # no folder chosen: refused with a message, nothing started
    assert dialog.banner.role == "error" and "job folder" in dialog.banner.text() and dialog.task is None
    # A CPU job on two machines through accelerate: refused in words naming this dialog's Scheduler box
    # (they said "use --scheduler torchrun", a flag of the command line).
    dialog.time_limit.setText("04:00:00")  # typed, then another scheduler chosen: the greyed field is not sent
    dialog.scheduler.setCurrentIndex(dialog.scheduler.findData("accelerate"))
    dialog.nodes.setValue(2)
    dialog.out.setText(str(tmp_path / "accelerate-job"))
    assert dialog.options().time_limit is None  # the export refuses a time limit for a non-slurm job
    refused = dialog.start()
    qtbot.waitUntil(lambda: not pending(refused), timeout=60000)
    assert dialog.banner.role == "error" and "Scheduler in the app's cluster dialog" in dialog.banner.text()
    assert "use --scheduler" not in dialog.banner.text() and not (tmp_path / "accelerate-job").exists()
    dialog.scheduler.setCurrentIndex(dialog.scheduler.findData("slurm"))
    dialog.nodes.setValue(3)
    dialog.procs.setValue(2)
    dialog.partition.setText("gpu")
    out = tmp_path / "job"
    dialog.out.setText(str(out))
    task = dialog.start()
    assert task is not None
    qtbot.waitUntil(lambda: not pending(task), timeout=60000)  # the old error banner is still up until then
    assert dialog.banner.role == "ok", dialog.banner.text()
    assert "sbatch job.sbatch" in dialog.banner.text()
    spec = json.loads((out / "job.json").read_text())
    assert (spec["scheduler"], spec["nodes"], spec["procs_per_node"], spec["experiment"]) == ("slurm", 3, 2, "gui-job")
    assert "#SBATCH --partition=gpu" in (out / "job.sbatch").read_text()
    assert (out / "data" / "manifest.jsonl").is_file() and (out / "model" / "config.json").is_file()
