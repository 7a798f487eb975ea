"""A text-classification run exported merged loads with `pipeline("text-classification")` and
predicts the same labels, by name, as the app's own evaluation of the run, also for texts longer
than the run's max_length (the card's usage truncates)."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.cli.main import main
from spark_trainer.store.store import Store
from tests.export.conftest import train_in_store
from tests.recipes.helpers import TOPICS, ticket_rows, write_jsonl
from tests.worker_here import evaluated_here


def test_merged_classifier_export_predicts_like_the_app(tmp_path, capsys) -> None:
    from transformers import pipeline

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier

    model = create_tiny_text_classifier(tmp_path / "tiny-bert", corpus=list(TOPICS.values()))
    data = write_jsonl(tmp_path / "tickets.jsonl", ticket_rows(60))
    # Half the held-out texts are longer than the run's max_length: the export truncates them as the run did.
    held_out = write_jsonl(tmp_path / "held-out.jsonl", [
        {**row, "text": " ".join([row["text"]] * (1 + 3 * (i % 2)))} for i, row in enumerate(ticket_rows(18, seed=7))])
    home = tmp_path / "home"
    config = ExperimentConfig.model_validate({
        "project": "support", "name": "tickets", "recipe": "text-classification", "base_model": str(model),
        "dataset": str(data), "gpus": "cpu", "train": {"max_steps": 8, "learning_rate": 3e-3, "batch_size": 8},
        "eval": {"every_steps": None, "val_fraction": 0.2}, "checkpoint": {"every_steps": None, "keep": 1},
        "recipe_config": {"method": "lora", "max_length": 12}})
    with Store.open(home) as store:
        run, outcome = train_in_store(store, config)
    run_dir = Path(run.run_dir)

    capsys.readouterr()
    assert main(["--home", str(home), "export", str(run.id), "--merge", "--dtype", "fp32", "--json"]) == 0
    folder = Path(json.loads(capsys.readouterr().out)["export"]["path"])
    with evaluated_here():  # the evaluation worker's main, in this process (tests/worker_here.py)
        assert main(["--home", str(home), "eval", str(run.id), "--task", "classification", "--data", str(held_out),
                     "--gpus", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["per_class"]) == set(TOPICS) and 0 <= result["metrics"]["macro_f1"] <= 1
    report = json.loads((run_dir / "evals" / f"{result['evaluation']}.json").read_text())
    app_labels = [p["predicted"] for p in report["predictions"]]

    classify = pipeline("text-classification", model=str(folder))
    texts = [json.loads(line)["text"] for line in held_out.read_text().splitlines()]
    assert max(len(classify.tokenizer(t)["input_ids"]) for t in texts) > 12
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 12
    exported_labels = [p["label"] for p in classify(texts, truncation=True)]  # as the card's usage says
    assert exported_labels == app_labels
    assert set(exported_labels) <= set(TOPICS)  # names, not LABEL_0


def test_export_does_not_report_the_trained_head_as_reinitialised(tmp_path, capfd) -> None:
    """Exporting a classifier printed transformers' LOAD REPORT ('classifier.weight | MISMATCH | Reinit
    due to size mismatch') to the user's terminal: that is the base's head replaced while the model is
    built, before the run's trained head is put in; the export itself is right. It read as if the
    export had thrown the trained head away."""
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier

    model = create_tiny_text_classifier(tmp_path / "tiny-bert", corpus=list(TOPICS.values()))
    assert json.loads((model / "config.json").read_text()).get("id2label", {"0": 0, "1": 1}).__len__() != len(TOPICS)
    data = write_jsonl(tmp_path / "tickets.jsonl", ticket_rows(30))
    home = tmp_path / "home"
    config = ExperimentConfig.model_validate({
        "project": "support", "name": "tickets", "recipe": "text-classification", "base_model": str(model),
        "dataset": str(data), "gpus": "cpu", "train": {"max_steps": 2, "batch_size": 8},
        "eval": {"every_steps": None}, "checkpoint": {"every_steps": None, "keep": 1},
        "recipe_config": {"method": "full"}})
    with Store.open(home) as store:
        run, _ = train_in_store(store, config)
    capfd.readouterr()
    assert main(["--home", str(home), "export", str(run.id), "--out", str(tmp_path / "out")]) == 0
    out, err = capfd.readouterr()
    assert "Reinit" not in out + err and "MISMATCH" not in out + err
    assert json.loads((tmp_path / "out" / "config.json").read_text())["id2label"] == {
        str(i): name for i, name in enumerate(sorted(TOPICS))}
