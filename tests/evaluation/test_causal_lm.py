"""Perplexity of a checkpoint against the validation loss its run's training reported."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.playground.trained import DEMO_DATA, _train_in_process


@pytest.mark.parametrize("fmt", ["prompt-completion", "text"])
def test_evaluated_perplexity_of_a_runs_validation_rows_is_its_training_validation_figure(
        tmp_path: Path, fmt: str) -> None:
    """`eval RUN --task perplexity` on the run's own held-out rows at its last checkpoint said 249.48
    where training said 179.19: it scored the prompts too, and training's loss counts only the
    completions (completion_only_loss). Text rows are all scored, by both."""
    from spark_trainer.config import validate_config
    from spark_trainer.evaluation.tasks import run_task
    from spark_trainer.export.checkpoint import resolve_checkpoint
    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.store import datasets, metrics
    from spark_trainer.store.store import Store

    home = tmp_path / "home"
    model = create_tiny_causal_lm(home / "models" / "tiny", vocab_size=300, hidden_size=32, num_layers=1,
                                  num_heads=2, max_position_embeddings=128)
    rows = [json.loads(line) for line in DEMO_DATA.read_text().splitlines() if line.strip()]
    if fmt == "text":
        rows = [{"text": r["prompt"] + r["completion"]} for r in rows]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = validate_config({
        "project": "p", "name": fmt, "recipe": "causal-lm", "base_model": str(model), "dataset": str(data),
        "gpus": "cpu", "train": {"max_steps": 4, "learning_rate": 1e-2, "batch_size": 8, "warmup_steps": 1},
        "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 64},
        "eval": {"every_steps": 4, "val_fraction": 0.2},
        "checkpoint": {"every_steps": 4, "keep": 1},
    })
    with Store.open(home) as store:
        run = _train_in_process(store, home, config, tmp_path)
        loss = metrics.series(store, run.run_id, keys=["eval_loss"])["eval_loss"]
        held = Path(datasets.list_all(store)[0].path)  # the file, ingested at submit: its held-out rows
    checkpoint, step = resolve_checkpoint(run.run_dir, "last")
    assert int(loss.steps[-1]) == step == 4
    result = run_task("perplexity", frozen_config(run.run_dir), checkpoint, held, device="cpu", dtype="fp32",
                      tick=lambda done, total: None)
    assert result["metrics"]["loss"] == pytest.approx(float(loss.values[-1]), rel=1e-4)
    assert result["metrics"]["perplexity"] == pytest.approx(math.exp(float(loss.values[-1])), rel=1e-3)


def test_rows_are_scored_on_the_tokens_training_learns_from(tmp_path: Path) -> None:
    """Text, prompt/completion and chat rows give the tokens and targets the recipe trains on."""
    from transformers import AutoTokenizer

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.evaluation.causal_lm import lm_examples
    from spark_trainer.evaluation.data import read_documents
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from spark_trainer.recipes.causal_lm_model import bos_ids
    from spark_trainer.training.data import Record

    model_dir = create_tiny_causal_lm(tmp_path / "tiny", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.chat_template = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
                         "{% if add_generation_prompt %}<assistant>{% endif %}")
    rows = [{"text": "one two three"}, {"prompt": "Count:", "completion": " 1 2"},
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for completion_only in (True, False):
        config = ExperimentConfig.model_validate({
            "project": "p", "name": "n", "recipe": "causal-lm", "base_model": str(model_dir), "dataset": str(data),
            "gpus": "cpu", "recipe_config": {"method": "full", "completion_only_loss": completion_only}})
        recipe = CausalLMRecipe(config)
        recipe.tokenizer = tok
        trained = [recipe.encode(Record(r, f"rows.jsonl:{i}", "val")) for i, r in enumerate(rows, start=1)]
        scored = lm_examples(tok, read_documents(data), bos_ids(tok, recipe.rc.bos_token), completion_only)
        assert [(list(e.input_ids), [bool(m) for m in e.train_mask]) for e in scored] == \
            [(list(e.input_ids), [bool(m) for m in e.train_mask]) for e in trained]
        if completion_only:  # the prompt and the user's turn are not scored
            assert not all(scored[1].train_mask) and not all(scored[2].train_mask)
