"""The setup form's memory panel says what train.sharding does with a full fine-tune on several GPUs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from app.views.memory_panel import MemoryEstimatePanel
from spark_trainer import estimate
from spark_trainer.estimate_sharding import sharding_note
from tests.test_estimate_sharding import CONFIG


def test_panel_shows_the_fsdp_number_and_whether_auto_shards(ctx, qtbot, tmp_path: Path) -> None:
    model = tmp_path / "llama-7b"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(CONFIG))
    config = {"name": "e", "recipe": "causal-lm", "base_model": str(model), "dataset": "d.jsonl", "gpus": "0,1",
              "train": {"batch_size": 1, "seq_len": 2048, "gradient_checkpointing": True, "sharding": "auto"},
              "recipe_config": {"method": "full"}}
    panel = MemoryEstimatePanel(ctx)
    qtbot.addWidget(panel)
    panel.gpus = [SimpleNamespace(index=i, memory_free=80 * estimate.GIB) for i in (0, 1)]
    panel.show_estimate(config, model)
    text = panel.fit.text()
    assert "Does not fit in 90% of GPU 0, GPU 1" in text
    assert sharding_note(config, model, 2, 80 * estimate.GIB).removeprefix("with") in text
    assert "auto will shard" in text
    panel.resize(640, panel.sizeHint().height())
    panel.grab().save(str(tmp_path / "memory-panel-fsdp.png"))
    config["recipe_config"] = {"method": "lora"}  # adapters: sharding is moot, no line about it
    panel.show_estimate(config, model)
    assert "FSDP" not in panel.fit.text()
