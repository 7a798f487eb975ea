"""Classification metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from spark_trainer.evaluation.metrics import classification_report


def test_report_matches_hand_computed_values() -> None:
    truth = ["cat", "cat", "cat", "dog", "dog", "bird"]
    guess = ["cat", "dog", "cat", "dog", "cat", "dog"]
    report = classification_report(truth, guess)
    assert report["labels"] == ["bird", "cat", "dog"]
    assert report["confusion_matrix"] == [[0, 0, 1], [0, 2, 1], [0, 1, 1]]
    assert report["accuracy"] == pytest.approx(3 / 6)
    cat = report["per_class"]["cat"]
    assert (cat["precision"], cat["recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    dog_f1 = 2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2)
    assert report["macro_f1"] == pytest.approx((0 + 2 / 3 + dog_f1) / 3)
    assert report["per_class"]["bird"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_macro_f1_leaves_out_classes_neither_in_the_data_nor_predicted() -> None:
    """The model knows 'blue_bars' but the file has none and none is predicted: listed with support 0,
    not averaged in (scikit-learn's and evaluate's default macro average). A class predicted but never
    true ('dog' here) still counts 0."""
    labels = ["blue_bars", "red_dots", "green_rings"]
    perfect = classification_report(["red_dots", "green_rings"], ["red_dots", "green_rings"], labels)
    assert perfect["accuracy"] == 1.0
    assert perfect["macro_f1"] == pytest.approx(1.0)
    assert perfect["per_class"]["blue_bars"]["support"] == 0
    assert perfect["labels"] == labels
    truth = ["cat", "cat", "bird", "bird"]
    guess = ["cat", "dog", "bird", "cat"]
    report = classification_report(truth, guess, ["ant", "bird", "cat", "dog"])
    cat_f1 = 2 * (1 / 2) * (1 / 2) / (1 / 2 + 1 / 2)
    bird_f1 = 2 * 1 * (1 / 2) / (1 + 1 / 2)
    assert report["macro_f1"] == pytest.approx((bird_f1 + cat_f1 + 0) / 3)
    sklearn = pytest.importorskip("sklearn.metrics")
    for t, g in ((["red_dots", "green_rings"], ["red_dots", "green_rings"]), (truth, guess)):
        assert classification_report(t, g, labels + ["ant", "bird", "cat", "dog"])["macro_f1"] == pytest.approx(
            sklearn.f1_score(t, g, average="macro", zero_division=0))


def test_classify_names_predictions_by_the_models_labels(tmp_path) -> None:
    """A tiny random sequence classifier: whatever it predicts is reported by label name, consistently."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from spark_trainer.evaluation.classification import classify, predict_labels
    from spark_trainer.evaluation.data import read_labelled
    from spark_trainer.models.tiny import create_tiny_causal_lm

    folder = create_tiny_causal_lm(tmp_path / "tiny", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2)
    from spark_trainer.export.causal_lm import load_tokenizer

    tokenizer = load_tokenizer(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id,
                         num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    model = LlamaForSequenceClassification(config).eval()
    data = tmp_path / "labelled.csv"
    data.write_text("text,label\ngood day,pos\nbad day,neg\nfine,pos\nawful,neg\n")
    items = read_labelled(data)
    result = classify(model, tokenizer, items, lambda _d, _t: None)
    predicted = predict_labels(model, tokenizer, [i.text for i in items])
    assert [p["predicted"] for p in result["predictions"]] == predicted
    assert result["labels"] == ["neg", "pos"]
    assert result["accuracy"] == pytest.approx(sum(p == i.label for p, i in zip(predicted, items, strict=True)) / 4)
    assert sum(map(sum, result["confusion_matrix"])) == 4
    data.write_text("text,label\nhello,maybe\n")
    from spark_trainer.errors import BadInput

    with pytest.raises(BadInput, match="'maybe'"):
        classify(model, tokenizer, read_labelled(data), lambda _d, _t: None)
