"""The setup form's memory panel shows the same estimate and micro-batch as `spark-trainer estimate`."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from app.views.memory_panel import MemoryEstimatePanel
from spark_trainer import estimate
from tests.cli.test_estimate import CONFIG


def test_panel_suggests_the_clis_micro_batch_for_the_planned_gpu(ctx, qtbot, tmp_path: Path, cli) -> None:
    import yaml

    model = tmp_path / "llama-1b"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(CONFIG))
    config = {"name": "e", "recipe": "causal-lm", "base_model": str(model), "dataset": "d.jsonl", "gpus": "1",
              "train": {"batch_size": 8, "grad_accum": 2}, "recipe_config": {"method": "lora", "seq_len": 2048}}
    panel = MemoryEstimatePanel(ctx)
    qtbot.addWidget(panel)
    free = 20 * estimate.GIB
    panel.gpus = [SimpleNamespace(index=0, memory_free=80 * estimate.GIB), SimpleNamespace(index=1, memory_free=free)]
    panel.show_estimate(config, model)
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump(config))
    report = cli("estimate", run_file, "--free-gib", "20", "--json").json()
    s = report["suggestion"]
    assert f"up to micro-batch {s['micro_batch']} with grad_accum {s['grad_accum']}" in panel.fit.text()
    assert "GPU 1" in panel.fit.text()
    assert report["estimate_bytes"] == estimate.estimate_for_config(config, model).total_bytes  # the panel's number
    panel.gpus = []  # no NVIDIA GPU: no suggestion; the panel says the run trains on the CPU
    panel.show_estimate(config, model)
    assert "micro-batch" not in panel.fit.text() and "trains on the CPU" in panel.fit.text()
    assert "GiB" in panel.memory.text()


def test_a_cpu_run_is_told_where_it_trains_beside_the_gpu_estimate(ctx, qtbot, tmp_path: Path) -> None:
    """Seen on a CPU-only machine: the panel said '~553.8 MB per GPU' with nothing about the run
    training on the CPU (the line under it was empty), as if a GPU would be used."""
    model = tmp_path / "llama-1b"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(CONFIG))
    config = {"name": "e", "recipe": "causal-lm", "base_model": str(model), "dataset": "d.jsonl", "gpus": "auto",
              "train": {"batch_size": 8}, "recipe_config": {"method": "lora", "seq_len": 512}}
    panel = MemoryEstimatePanel(ctx)
    qtbot.addWidget(panel)
    panel.gpus = []  # no NVIDIA GPU on this machine
    panel.show_estimate(config, model)
    assert panel.fit.text() == ("No NVIDIA GPU here: this run trains on the CPU, in system memory; "
                                "the figure above is what one GPU would need.")
    panel.gpus = [SimpleNamespace(index=0, memory_free=80 * estimate.GIB)]
    panel.show_estimate({**config, "gpus": "cpu"}, model)
    assert panel.fit.text() == ("gpus: cpu: this run trains on the CPU, in system memory; "
                                "the figure above is what one GPU would need.")


def test_no_empty_lines_under_a_one_line_answer(ctx, qtbot, tmp_path: Path) -> None:
    # Seen at 1024 x 640: "Choose a base model to see the estimate." then two empty lines (the parts and
    # the fit, with nothing to say) before the next line.
    panel = MemoryEstimatePanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(360, 300)
    panel.show()
    panel.show_estimate({"gpus": "auto"}, None)
    panel._on_measured(([], []))
    layout = panel.layout()
    layout.activate()
    panel.resize(360, layout.totalHeightForWidth(360))  # the height it asks for, as in the setup form
    qtbot.wait(20)
    gap = panel.measured_label.geometry().top() - panel.memory.geometry().bottom() - 1
    assert gap <= layout.spacing(), gap
    model = tmp_path / "llama-1b"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(CONFIG))
    panel.show_estimate({"recipe": "causal-lm", "base_model": str(model), "gpus": "auto",
                         "recipe_config": {"method": "lora"}}, model)
    qtbot.wait(20)
    assert panel.parts.isVisible() and panel.fit.isVisible() and panel.parts.text()
