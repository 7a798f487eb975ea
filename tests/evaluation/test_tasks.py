"""Evaluation tasks read the run's own settings: a classification evaluation truncates texts where
training (and the Playground) did."""

from __future__ import annotations

from pathlib import Path

from tests.recipes.helpers import TOPICS, ticket_rows, write_jsonl


def test_classification_truncates_at_the_runs_max_length(tmp_path: Path, monkeypatch) -> None:
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.evaluation.tasks import run_task
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier

    model_dir = create_tiny_text_classifier(tmp_path / "tiny-bert", corpus=list(TOPICS.values()))
    data = write_jsonl(tmp_path / "tickets.jsonl", ticket_rows(12))
    long_rows = [{"text": " ".join([row["text"]] * 20), "label": row["label"]} for row in ticket_rows(4, seed=3)]
    held_out = write_jsonl(tmp_path / "long.jsonl", long_rows)
    config = ExperimentConfig.model_validate({
        "project": "p", "name": "n", "recipe": "text-classification", "base_model": str(model_dir),
        "dataset": str(data), "gpus": "cpu", "recipe_config": {"method": "full", "max_length": 12}})
    seen: list[int] = []
    from transformers import BertForSequenceClassification

    forward = BertForSequenceClassification.forward

    def recording(self, input_ids=None, **kwargs):
        seen.append(int(input_ids.shape[1]))
        return forward(self, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(BertForSequenceClassification, "forward", recording)
    result = run_task("classification", config, None, held_out, device="cpu", dtype="fp32",
                      tick=lambda done, total: None, data_path=data)
    assert len(result["predictions"]) == 4
    assert seen and max(seen) == 12, seen  # evaluated on 512 tokens where training saw 12
