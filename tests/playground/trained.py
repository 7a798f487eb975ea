"""A real, tiny, trained causal-LM run for playground tests (in-process training, ~seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "resources" / "demo" / "train.jsonl"
TRAINING_PROMPT = "Count up from 20:"  # a prompt of the training set (resources/demo/train.jsonl)


@dataclass(frozen=True)
class TrainedRun:
    home: Path
    run_id: int
    run_dir: Path


def _train_in_process(store, home: Path, config, base_dir: Path) -> TrainedRun:
    """Submit `config`, train it in this process, and mark the run completed as a worker would."""
    from spark_trainer.jobs.submit import frozen_config, submit_config
    from spark_trainer.jobs.worker import train
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.training.reporting import Commands

    run = submit_config(store, config, base_dir=base_dir).run
    run_dir = Path(run.run_dir)
    train(store, run.id, frozen_config(run_dir), run_dir, Commands())
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, status, "trained in-process by the test fixture")
    return TrainedRun(home, run.id, run_dir)


def train_tiny_run(home: Path, steps: int = 40) -> TrainedRun:
    """Train the demo task on a tiny random-weight Llama for `steps` steps; checkpoints every half."""
    from spark_trainer.config import validate_config
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.store.store import Store

    model = create_tiny_causal_lm(home / "models" / "tiny", vocab_size=300, hidden_size=32, num_layers=1,
                                  num_heads=2, max_position_embeddings=128)
    config = validate_config({
        "project": "pg", "name": "tiny-lora", "recipe": "causal-lm", "base_model": str(model),
        "dataset": str(DEMO_DATA), "gpus": "cpu",
        "train": {"max_steps": steps, "learning_rate": 1e-2, "batch_size": 8, "warmup_steps": 2},
        "recipe_config": {"method": "lora", "lora_r": 8, "lora_alpha": 16, "seq_len": 64},
        "eval": {"every_steps": steps // 2, "val_fraction": 0.1, "max_batches": 2},
        "checkpoint": {"every_steps": steps // 2, "keep": 2},
    })
    with Store.open(home) as store:
        return _train_in_process(store, home, config, DEMO_DATA.parent)


ALPACA_ROWS = [{"instruction": f"Count up from {i}.", "input": "" if i % 2 else "in steps of one",
                "output": " ".join(str(i + k) for k in range(4))} for i in range(24)]


def train_tiny_alpaca_run(home: Path, steps: int = 4) -> TrainedRun:
    """A tiny Llama trained a few steps on Alpaca rows (instruction, input, output): the run's frozen
    config says `format: alpaca`, so trying it wraps prompts in the Alpaca template."""
    import json

    from spark_trainer.config import validate_config
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.store.store import Store

    model = create_tiny_causal_lm(home / "models" / "tiny", vocab_size=300, hidden_size=32, num_layers=1,
                                  num_heads=2, max_position_embeddings=256)
    data = home.parent / "alpaca.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ALPACA_ROWS))
    config = validate_config({
        "project": "pg", "name": "alpaca", "recipe": "causal-lm", "base_model": str(model), "dataset": str(data),
        "gpus": "cpu", "train": {"max_steps": steps, "learning_rate": 1e-2, "batch_size": 4},
        "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 256},
        "eval": {"every_steps": None, "val_fraction": 0.0},
        "checkpoint": {"every_steps": steps, "keep": 1},
    })
    with Store.open(home) as store:
        return _train_in_process(store, home, config, data.parent)


def train_tiny_text_classifier_run(home: Path, steps: int = 40) -> TrainedRun:
    """A tiny BERT fully fine-tuned on the support-ticket topics of tests/recipes (it learns them in
    about this many steps there)."""
    from spark_trainer.config import validate_config
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier
    from spark_trainer.store.store import Store
    from tests.recipes.helpers import TOPICS, ticket_rows, write_jsonl

    model = create_tiny_text_classifier(home / "models" / "tiny-bert", corpus=list(TOPICS.values()))
    data = write_jsonl(home.parent / "tickets.jsonl", ticket_rows(120))
    config = validate_config({
        "project": "pg", "name": "tickets", "recipe": "text-classification", "base_model": str(model),
        "dataset": str(data), "gpus": "cpu", "train": {"max_steps": steps, "learning_rate": 3e-3, "batch_size": 8},
        "recipe_config": {"method": "full"},
        "eval": {"every_steps": steps // 2, "val_fraction": 0.2},
        "checkpoint": {"every_steps": steps // 2, "keep": 2},
    })
    with Store.open(home) as store:
        return _train_in_process(store, home, config, data.parent)


def train_tiny_diffusion_run(home: Path, steps: int = 6) -> TrainedRun:
    """The diffusion-LoRA demo's tiny pipeline and shapes, trained for `steps` steps on the CPU."""
    from spark_trainer.jobs.demo_diffusion import diffusion_demo_config, ensure_demo_images, ensure_demo_pipeline
    from spark_trainer.store.store import Store

    with Store.open(home) as store:
        model, images = ensure_demo_pipeline(store), ensure_demo_images(store)
        config = diffusion_demo_config(model, images, steps=steps).model_copy(deep=True)
        config.gpus = "cpu"
        config.eval.samples_every_steps = None
        return _train_in_process(store, home, config, images)
