"""The model card's front matter and usage for a base the Hub knows, and for a local folder."""

from __future__ import annotations

import pytest
import yaml

from spark_trainer.export.card import CardData, EvalResult, render
from spark_trainer.export.registry import ExportInfo


def _card(base_is_local: bool, kind: str = "adapter") -> str:
    info = ExportInfo(kind=kind, library_name="peft", pipeline_tag="text-generation", dtype="fp32",
                      usage='base = AutoModelForCausalLM.from_pretrained("my-llama")')
    return render(CardData(model_name="m", run_id=1, recipe="causal-lm", base_model="my-llama", step=10, info=info,
                           dataset_name="d", dataset_summary="", hyperparameters={}, final_metrics={"loss": 1.0},
                           has_curve=False, base_is_local=base_is_local))


def test_a_hub_base_is_the_cards_base_model():
    text = _card(False)
    assert yaml.safe_load(text.split("---\n")[1])["base_model"] == "my-llama"
    assert "was a local folder" not in text


def test_a_local_base_is_left_out_of_the_front_matter_and_the_usage_says_what_to_put_there():
    text = _card(True)
    meta = yaml.safe_load(text.split("---\n")[1])
    assert "base_model" not in meta  # the Hub checks base_model against its models
    assert meta["library_name"] == "peft"
    assert "`my-llama` was a local folder" in text and "put its path, or the Hub id" in text
    assert "was a local folder" not in _card(True, kind="merged")  # a merged model needs no base to load


def test_several_results_are_plain_yaml_without_anchors_and_a_metric_is_not_named_twice():
    # An export with validation metrics and an evaluation wrote `task: &id001` / `task: *id001` (one
    # dict shared by every result) and named the perplexity eval's metric "perplexity perplexity".
    info = ExportInfo(kind="merged", library_name="transformers", pipeline_tag="text-generation", dtype="fp32",
                      usage="")
    text = render(CardData(model_name="m", run_id=1, recipe="causal-lm", base_model="b", step=10, info=info,
                           dataset_name="d", dataset_summary="", hyperparameters={},
                           final_metrics={"eval_loss": 2.0},
                           evaluations=[EvalResult("perplexity", "chat", {"perplexity": 7.0, "loss": 1.9})],
                           has_curve=False))
    front = text.split("---\n")[1]
    assert "&id" not in front and "*id" not in front
    results = yaml.safe_load(front)["model-index"][0]["results"]
    assert [r["task"] for r in results] == [{"type": "text-generation"}] * 2
    assert [m["name"] for m in results[1]["metrics"]] == ["perplexity", "perplexity loss"]


def test_a_local_dataset_is_never_named_as_a_hub_dataset():
    # `datasets: [train]` linked hf.co/datasets/train, someone else's dataset, and so did model-index's
    # dataset type; the local name stays in the body and as model-index's dataset name.
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    info = ExportInfo(kind="adapter", library_name="peft", pipeline_tag="text-generation", dtype="fp32", usage="")
    text = render(CardData(model_name="m", run_id=1, recipe="causal-lm", base_model="b", step=10, info=info,
                           dataset_name="train", dataset_summary="", hyperparameters={},
                           final_metrics={"eval_loss": 1.5}, has_curve=False,
                           evaluations=[EvalResult(task="perplexity", dataset="held-out.jsonl",
                                                   metrics={"perplexity": 4.0})]))
    meta = yaml.safe_load(text.split("---\n")[1])
    assert "datasets" not in meta
    named = [r["dataset"] for r in meta["model-index"][0]["results"]]
    assert [d["name"] for d in named] == ["train", "held-out.jsonl"]
    for dataset in named:
        with pytest.raises(HFValidationError):
            validate_repo_id(dataset["type"])
    assert "Dataset `train`." in text


def test_the_card_names_the_exported_steps_loss_and_no_file_it_does_not_ship(store, tmp_path):
    """Seen in a walk: an export of step 20 of a 40-step run called its loss the "final training loss",
    and the Training data section sent readers to report.json and manifest.jsonl, which stay in the
    data home."""
    import json

    from spark_trainer.export.card import dataset_summary
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.ingest.browse import read_card
    from spark_trainer.store import projects

    projects.create(store, "p")
    rows = tmp_path / "notes.jsonl"
    rows.write_text("".join(json.dumps({"text": f"note {i}"}) + "\n" for i in range(20)) + "not json\n")
    dataset = ingest_paths(store, [rows], project="p").dataset
    card_text = read_card(dataset.path)
    assert "report.json" in card_text and "manifest.jsonl" in card_text  # the dataset's own card points at them
    summary = dataset_summary(card_text)
    assert "rejected: 1" in summary, summary  # what it said is kept
    assert "report.json" not in summary and "manifest.jsonl" not in summary, summary

    info = ExportInfo(kind="adapter", library_name="peft", pipeline_tag="text-generation", dtype="fp32", usage="")
    text = render(CardData(model_name="m", run_id=1, recipe="causal-lm", base_model="b", step=20, info=info,
                           dataset_name="notes", dataset_summary=summary, hyperparameters={},
                           final_metrics={"loss": 5.7}, has_curve=False))
    front = yaml.safe_load(text.split("---")[1])
    assert front["model-index"][0]["results"][0]["metrics"][0]["name"] == "training loss at step 20"
    assert "final training loss" not in text
