"""Fixtures: a tiny causal-LM LoRA run trained for real (in-process, CPU) and recorded in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store
from tests.training.helpers import LEARNABLE_TARGETS, counting_rows, make_config, write_jsonl


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny-llama", vocab_size=300,
                                 hidden_size=32, num_layers=1, num_heads=2, max_position_embeddings=128)


def train_in_store(store: Store, config) -> tuple[Run, object]:
    """Submit a run of `config` and train it in this process (the worker's own `train`); it ends completed."""
    from spark_trainer.jobs.submit import frozen_config, submit_config
    from spark_trainer.jobs.worker import train
    from spark_trainer.training.reporting import Commands

    run = submit_config(store, config, gpus="cpu", machine=[]).run
    runs.transition(store, run.id, RunStatus.STARTING, "test")
    runs.transition(store, run.id, RunStatus.RUNNING, "test")
    run_dir = Path(run.run_dir)
    outcome = train(store, run.id, frozen_config(run_dir), run_dir, Commands())
    assert outcome.status == "completed"
    return runs.transition(store, run.id, RunStatus.COMPLETED, "test", step=outcome.step), outcome


def train_run(store: Store, model: Path, data_dir: Path, *, method: str = "lora", steps: int = 6,
              eval_every: int | None = 3) -> Run:
    """A tiny causal-LM run on a counting task, trained and recorded."""
    data = write_jsonl(data_dir / "count.jsonl", counting_rows(60))
    config = make_config(model, project="export", name=f"tiny-{method}", dataset=str(data),
                         train={"max_steps": steps},
                         eval={"every_steps": eval_every, "val_fraction": 0.2},
                         checkpoint={"every_steps": 3, "keep": 3, "keep_best": True},
                         recipe_config={"method": method, "lora_r": 4, "target_modules": LEARNABLE_TARGETS,
                                        "seq_len": 64})
    return train_in_store(store, config)[0]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> tuple[Path, Run]:
    """(data home, run): one trained LoRA run shared by a module's tests."""
    home = tmp_path_factory.mktemp("home")
    with Store.open(home) as store:
        run = train_run(store, tiny_model, tmp_path_factory.mktemp("data"))
    return home, run


def export_without_base_weights(home: Path, run_dir: Path, model: Path, tmp_path: Path) -> None:
    """Proof that an adapter export reads no base weight: with the base's weight files gone (the run's
    config pointed at a copy without them) the adapter still exports, and a merge, which needs them, fails."""
    import shutil

    from spark_trainer.cli.main import main

    shutil.copytree(model, tmp_path / "no-weights")
    for weights in (tmp_path / "no-weights").glob("*.safetensors"):
        weights.unlink()
    config_file = run_dir / "config.yaml"
    original = config_file.read_text(encoding="utf-8")
    config_file.write_text(original.replace(str(model), str(tmp_path / "no-weights")), encoding="utf-8")
    try:
        assert main(["--home", str(home), "export", run_dir.name, "--out", str(tmp_path / "adapter")]) == 0
        assert (tmp_path / "adapter" / "adapter_model.safetensors").stat().st_size > 0
        assert main(["--home", str(home), "export", run_dir.name, "--merge", "--out", str(tmp_path / "merged")]) != 0
    finally:
        config_file.write_text(original, encoding="utf-8")


def merge_refused_for_memory(home: Path, run_dir: Path, model: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """With memory and swap for half the base, a merge is refused in one line naming what it needs and
    writes nothing, and the adapter alone (no base weights) still exports."""
    from collections import namedtuple

    import psutil

    from spark_trainer.cli.main import main
    from spark_trainer.export.memory import weights_bytes_fp32

    needed = weights_bytes_fp32(model)
    memory = namedtuple("memory", "available free")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory(needed // 2, 0))
    monkeypatch.setattr(psutil, "swap_memory", lambda: memory(0, needed // 4))
    capsys.readouterr()
    code = main(["--home", str(home), "export", run_dir.name, "--merge", "--out", str(tmp_path / "merged")])
    err = capsys.readouterr().err.replace("  writing weights (0/3)\n", "")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: merging the adapter into the base needs about ")
    assert f"(the base model {model.name} in fp32)" in err and "export the adapter alone (not merged)" in err
    assert not (tmp_path / "merged").exists() or not any((tmp_path / "merged").iterdir())
    assert main(["--home", str(home), "export", run_dir.name, "--out", str(tmp_path / "adapter")]) == 0
