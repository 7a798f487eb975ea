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
    panel.gpus = []  # no NVIDIA GPU: no suggestion, the estimate alone
    panel.show_estimate(config, model)
    assert panel.fit.text() == "" and "GB" in panel.memory.text()
