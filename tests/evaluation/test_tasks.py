"""Evaluation tasks read the run's own settings: a classification evaluation truncates texts where
training (and the Playground) did."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
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


def test_image_classification_runs_are_evaluated_on_a_manifest(tmp_path: Path) -> None:
    """`eval --task classification` refused image-classification runs ("it is for: text-classification"),
    so an image classifier had no held-out evaluation from the command line."""
    import json

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.evaluation.tasks import check_task, read_data, run_task
    from spark_trainer.models.tiny_classifiers import create_tiny_image_classifier
    from tests.recipes.helpers import make_image_folders

    model_dir = create_tiny_image_classifier(tmp_path / "tiny-vit", num_layers=1)
    train = make_image_folders(tmp_path / "shapes", per_class=3)
    held_out = make_image_folders(tmp_path / "held-out", per_class=1, seed=5)
    manifest = tmp_path / "held-out.jsonl"
    rows = [{"image": f"held-out/{p.parent.name}/{p.name}", "class": p.parent.name}
            for p in sorted(held_out.glob("*/*.png"))]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = ExperimentConfig.model_validate({
        "project": "p", "name": "n", "recipe": "image-classification", "base_model": str(model_dir),
        "dataset": str(train), "gpus": "cpu",
        "recipe_config": {"method": "full", "image_column": "image", "label_column": "class", "num_workers": 0}})
    check_task("classification", "image-classification")
    items = read_data("classification", manifest, config)
    assert [i.path for i in items] == [str(p.resolve()) for p in sorted(held_out.glob("*/*.png"))]

    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store.store import Store

    with Store.open(tmp_path / "home") as store:
        from spark_trainer.store import projects

        projects.create(store, "p")
        dataset = ingest_paths(store, [train], project="p").dataset
    result = run_task("classification", config, None, manifest, device="cpu", dtype="fp32",
                      tick=lambda done, total: None, data_path=Path(dataset.path))
    assert len(result["predictions"]) == 3 and set(result["labels"]) == {"red_square", "green_disc", "blue_bars"}
    assert {p["predicted"] for p in result["predictions"]} <= set(result["labels"])
    # The class folders themselves (as `dataset ingest` takes them) give the same evaluation.
    assert [(i.path, i.label) for i in read_data("classification", held_out, config)] == \
        [(i.path, i.label) for i in items]
    by_folder = run_task("classification", config, None, held_out, device="cpu", dtype="fp32",
                         tick=lambda done, total: None, data_path=Path(dataset.path))
    # (the base model's new head is drawn again at each load: its predictions are not compared)
    assert by_folder["labels"] == result["labels"] and set(by_folder["metrics"]) == set(result["metrics"])
    assert [p["label"] for p in by_folder["predictions"]] == [p["label"] for p in result["predictions"]]

    (tmp_path / "missing.jsonl").write_text(json.dumps({"image": "nope.png", "class": "red_square"}) + "\n")
    with pytest.raises(BadInput, match=r"missing.jsonl: line 1: image .*nope.png does not exist"):
        read_data("classification", tmp_path / "missing.jsonl", config)


@pytest.mark.parametrize(("rule", "bos_first"), [("tokenizer", False), ("always", True)])
def test_perplexity_and_mcq_start_as_the_runs_rows_did(tmp_path: Path, monkeypatch, rule: str, bos_first: bool) -> None:
    """A GPT-2-style tokenizer adds no BOS: a run that put one first anyway (bos_token: always, every
    run queued before the setting) is evaluated on inputs that start with it too, and one that did not
    on inputs that do not."""
    from tokenizers import processors
    from transformers import AutoTokenizer, LlamaForCausalLM

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.evaluation.tasks import run_task
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model_dir = create_tiny_causal_lm(tmp_path / "gpt2-style", vocab_size=300, hidden_size=32, num_layers=1,
                                      num_heads=2, max_position_embeddings=256)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B")
    tok.save_pretrained(model_dir)
    bos = tok.bos_token_id
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "count 1 2 3"}, {"text": "count 4 5"}])
    questions = tmp_path / "q.csv"
    questions.write_text("subject,question,A,B,C,D,answer\nmath,1 + 1?,1,2,3,4,B\n")
    config = ExperimentConfig.model_validate({
        "project": "p", "name": "n", "recipe": "causal-lm", "base_model": str(model_dir), "dataset": str(texts),
        "gpus": "cpu", "recipe_config": {"method": "full", "bos_token": rule}})
    firsts: list[int] = []
    forward = LlamaForCausalLM.forward

    def recording(self, input_ids=None, **kwargs):
        firsts.extend(int(t) for t in input_ids[:, 0])
        return forward(self, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "forward", recording)
    for task, data in (("perplexity", texts), ("mcq", questions)):
        firsts.clear()
        run_task(task, config, None, data, device="cpu", dtype="fp32", tick=lambda done, total: None)
        assert firsts and all((first == bos) is bos_first for first in firsts), (task, firsts)


def test_a_decoder_classifier_is_evaluated_on_the_texts_cut_as_training_cut_them(tmp_path: Path, monkeypatch) -> None:
    """A BOS-only tokenizer (a decoder's): the tokenizer's own truncation kept the 11 first tokens, training
    keeps the 10 first and the last; `eval --task classification` measured the model on other inputs."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from spark_trainer.evaluation.classification import predict_labels
    from spark_trainer.export.causal_lm import load_tokenizer
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.recipes.text_classification_data import truncate

    tokenizer = load_tokenizer(create_tiny_causal_lm(tmp_path / "tiny", vocab_size=300, hidden_size=32,
                                                     num_layers=1, num_heads=2))
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id, num_labels=2,
        id2label={0: "neg", 1: "pos"})).eval()
    texts = ["a good day " * 12 + "the end", "bad"]
    seen: list[list[int]] = []
    forward = LlamaForSequenceClassification.forward

    def recording(self, input_ids=None, attention_mask=None, **kwargs):
        seen.extend(row[m.bool()].tolist() for row, m in zip(input_ids, attention_mask, strict=True))
        return forward(self, input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    monkeypatch.setattr(LlamaForSequenceClassification, "forward", recording)
    predict_labels(model, tokenizer, texts, max_length=12)
    trained_on = [truncate(list(tokenizer(t)["input_ids"]), 12)[0] for t in texts]
    assert tokenizer.eos_token_id not in tokenizer("bad")["input_ids"]  # no closing token of its own
    assert seen == trained_on and len(seen[0]) == 12


def test_images_that_do_not_decode_are_skipped_and_listed_not_the_whole_evaluation_failed(tmp_path: Path,
                                                                                          monkeypatch) -> None:
    """A held-out folder as users have them: an empty file, a text file named .jpg, a cut-off photo and a
    scan past Pillow's limit. One of them failed the evaluation, naming every image of its batch of 16
    (the scan: with Pillow's traceback); the run's own evaluation skips such images and lists them."""
    from PIL import Image

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.evaluation.tasks import run_task
    from spark_trainer.models.tiny_classifiers import create_tiny_image_classifier
    from tests.recipes.helpers import make_image_folders

    model_dir = create_tiny_image_classifier(tmp_path / "tiny-vit", num_layers=1, num_labels=3)
    held_out = make_image_folders(tmp_path / "held-out", per_class=2, size=32)
    (held_out / "red_square" / "empty.jpg").write_bytes(b"")
    (held_out / "red_square" / "notes.jpg").write_text("not a photo")
    whole = held_out / "green_disc" / "000.png"
    Image.new("RGB", (32, 32), (40, 200, 60)).save(held_out / "green_disc" / "cut.jpg")
    cut = held_out / "green_disc" / "cut.jpg"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    Image.new("RGB", (128, 128), (40, 60, 220)).save(held_out / "blue_bars" / "scan.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)  # the scan's 16,384 pixels are past twice the limit
    config = ExperimentConfig.model_validate({
        "project": "p", "name": "n", "recipe": "image-classification", "base_model": str(model_dir),
        "dataset": str(held_out), "gpus": "cpu", "recipe_config": {"method": "full", "num_workers": 0}})
    labels = ["blue_bars", "green_disc", "red_square"]
    result = run_task("classification", config, None, held_out, device="cpu", dtype="fp32",
                      tick=lambda done, total: None, labels=labels)
    assert len(result["predictions"]) == 6 and whole.is_file()
    skipped = {Path(s["path"]).name: s["reason"] for s in result["skipped_images"]}
    assert sorted(skipped) == ["cut.jpg", "empty.jpg", "notes.jpg", "scan.png"]
    assert skipped["scan.png"] == "image too large: over 10,000 pixels, more than Pillow opens"
    assert all(reason.startswith("undecodable image: ") for name, reason in skipped.items() if name != "scan.png")

    only_broken = tmp_path / "broken"
    (only_broken / "red_square").mkdir(parents=True)
    (only_broken / "red_square" / "empty.jpg").write_bytes(b"")
    with pytest.raises(BadInput, match=r"no image of .*broken decodes \(first: .*empty.jpg: undecodable image"):
        run_task("classification", config, None, only_broken, device="cpu", dtype="fp32", tick=lambda d, t: None,
                 labels=labels)


def test_a_run_on_instruction_rows_is_evaluated_on_prompts_in_its_template(tmp_path: Path, monkeypatch) -> None:
    """MCQ asks a run trained on Alpaca rows its question as the instruction in the Alpaca template, and
    perplexity reads Alpaca rows as training did (the prompt in the template, then the answer)."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.evaluation.causal_lm import mcq_prompt
    from spark_trainer.evaluation.data import McqItem
    from spark_trainer.evaluation.tasks import read_data, run_task
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.recipes.causal_lm import CausalLMConfig

    model_dir = create_tiny_causal_lm(tmp_path / "tiny", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2,
                                      max_position_embeddings=512)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Count up from 1.", "input": "", "output": "1 2"}])
    questions = tmp_path / "q.csv"
    questions.write_text("subject,question,A,B,C,D,answer\nmath,1 + 1?,1,2,3,4,B\n")
    template = CausalLMConfig().template()
    seen: list[list[int]] = []
    forward = LlamaForCausalLM.forward

    def recording(self, input_ids=None, **kwargs):
        seen.extend(row.tolist() for row in input_ids)
        return forward(self, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "forward", recording)
    for fmt, wrapped in (("alpaca", True), ("prompt-completion", False)):
        config = ExperimentConfig.model_validate({
            "project": "p", "name": "n", "recipe": "causal-lm", "base_model": str(model_dir), "dataset": str(rows),
            "gpus": "cpu", "recipe_config": {"method": "full", "format": fmt, "seq_len": 512}})
        seen.clear()
        run_task("mcq", config, None, questions, device="cpu", dtype="fp32", tick=lambda done, total: None)
        item = McqItem("math", "1 + 1?", ("1", "2", "3", "4"), 1, "q.csv:2")
        context = template.prompt(mcq_prompt(item)) if wrapped else mcq_prompt(item)
        assert seen[0][:len(tok(context)["input_ids"])] == tok(context)["input_ids"], fmt

    config = ExperimentConfig.model_validate({
        "project": "p", "name": "n", "recipe": "causal-lm", "base_model": str(model_dir), "dataset": str(rows),
        "gpus": "cpu", "recipe_config": {"method": "full", "format": "alpaca", "seq_len": 512}})
    docs = read_data("perplexity", rows, config)
    assert docs == [{"prompt": template.prompt("Count up from 1."), "completion": "1 2"}]
