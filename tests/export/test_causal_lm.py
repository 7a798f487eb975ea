"""The causal-LM exporter (spark_trainer/export/causal_lm.py): an adapter is saved without loading the
base model's weights, and holds exactly what the full load gave."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spark_trainer.export.causal_lm import adapter_only, load
from spark_trainer.jobs.submit import frozen_config
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import latest_checkpoint
from tests.export.conftest import export_without_base_weights, merge_refused_for_memory, train_in_store
from tests.training.helpers import LEARNABLE_TARGETS, counting_rows, make_config, write_jsonl

NOT_EMBEDDINGS = LEARNABLE_TARGETS.replace(",lm_head", "")  # peft saves a targeted lm_head's base weights too


def _run(home: Path, model: Path, method: str, targets: str = NOT_EMBEDDINGS) -> Path:
    """A 3-step causal-LM run's folder, trained and recorded in `home`."""
    data = write_jsonl(home.parent / f"count-{method}.jsonl", counting_rows(20))
    config = make_config(model, project="export", name=f"tiny-{method}", dataset=str(data),
                         train={"max_steps": 3}, eval={"every_steps": None}, checkpoint={"every_steps": 3, "keep": 1},
                         recipe_config={"method": method, "lora_r": 4, "target_modules": targets, "seq_len": 32})
    with Store.open(home) as store:
        return Path(train_in_store(store, config)[0].run_dir)


def _adapter_tensors(model) -> dict[str, torch.Tensor]:
    from peft import get_peft_model_state_dict

    return get_peft_model_state_dict(model)


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_the_adapter_without_the_base_weights_is_the_adapter_of_the_full_load(method, tiny_model, tmp_path) -> None:
    run_dir = _run(tmp_path / "home", tiny_model, method)
    config, checkpoint = frozen_config(run_dir), latest_checkpoint(run_dir)
    light = _adapter_tensors(adapter_only(config, checkpoint))
    full = _adapter_tensors(load(config, checkpoint, "cpu", "fp32")[0])
    assert sorted(light) == sorted(full) and len(full) > 0
    for name, tensor in full.items():
        assert torch.equal(light[name], tensor), name


def test_a_targeted_lm_head_needs_the_base_weights(tiny_model, tmp_path) -> None:
    """peft's adapter then carries the base's embedding matrices: the base is loaded as before."""
    run_dir = _run(tmp_path / "home", tiny_model, "lora", LEARNABLE_TARGETS)
    assert adapter_only(frozen_config(run_dir), latest_checkpoint(run_dir)) is None


def test_an_adapter_exports_with_the_base_weights_unreadable(tiny_model, tmp_path, capsys) -> None:
    home = tmp_path / "home"
    export_without_base_weights(home, _run(home, tiny_model, "lora"), tiny_model, tmp_path)
    capsys.readouterr()


def test_a_merge_that_cannot_fit_in_memory_is_refused_in_one_line_and_writes_nothing(tiny_model, tmp_path,
                                                                                    capsys, monkeypatch) -> None:
    """Loading it would end with the process killed by the system: the whole app, for an export started there."""
    from spark_trainer.export.memory import weights_bytes_fp32

    home = tmp_path / "home"
    run_dir = _run(home, tiny_model, "lora")
    # Stored in fp32 already: the estimate is the files' size.
    assert weights_bytes_fp32(tiny_model) == sum(p.stat().st_size for p in tiny_model.glob("*.safetensors"))
    merge_refused_for_memory(home, run_dir, tiny_model, tmp_path, capsys, monkeypatch)


def test_the_model_card_of_a_run_on_alpaca_rows_shows_its_prompt_format(tmp_path, capsys) -> None:
    """The card says how to prompt the model: the Alpaca template it trained in, with an example."""
    import json

    from spark_trainer.cli.main import main
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(tmp_path / "tiny-256", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2,
                                  max_position_embeddings=256)
    data = tmp_path / "alpaca.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"Count up from {i}.", "input": "", "output": f"{i} {i + 1}"})
                            + "\n" for i in range(10)))
    config = make_config(model, project="export", name="alpaca", dataset=str(data), train={"max_steps": 2},
                         eval={"every_steps": None, "val_fraction": 0.0}, checkpoint={"every_steps": 2, "keep": 1},
                         recipe_config={"method": "lora", "lora_r": 4, "seq_len": 256})
    home = tmp_path / "home"
    with Store.open(home) as store:
        run_dir = Path(train_in_store(store, config)[0].run_dir)
    assert main(["--home", str(home), "export", run_dir.name, "--out", str(tmp_path / "out")]) == 0, capsys.readouterr()
    card = (tmp_path / "out" / "README.md").read_text()
    section = card.split("## Prompt format\n\n", 1)[1].split("\n## ", 1)[0]
    assert section.startswith("Trained on instruction rows of format alpaca (instruction, optional input, output): "
                              "each instruction was given in the Alpaca template below")
    assert ("```text\nBelow is an instruction that describes a task. Write a response that appropriately completes "
            "the request.\n\n### Instruction:\nName three primary colours.\n\n### Response:\n```") in section
