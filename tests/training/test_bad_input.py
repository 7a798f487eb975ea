"""Bad input stops before training, with one clear message naming what is wrong."""

from __future__ import annotations

import pytest

from spark_trainer.config import validate_config
from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.training.engine import run_training
from spark_trainer.training.reporting import Commands
from tests.training.helpers import RecordingReporter, make_config, write_jsonl


def _run(config, data, run_dir):
    reporter = RecordingReporter()
    try:
        return run_training(config, data_path=data, run_dir=run_dir, reporter=reporter, commands=Commands())
    finally:
        assert reporter.started is None and not reporter.metrics  # nothing ran
        assert not (run_dir / "checkpoints").exists()


def test_empty_dataset(tiny_model, tmp_path):
    data = tmp_path / "empty.jsonl"
    data.write_text("\n\n")
    with pytest.raises(BadInput, match="empty.jsonl is empty"):
        _run(make_config(tiny_model), data, tmp_path / "run")


def test_line_that_is_not_json_names_its_line(tiny_model, tmp_path):
    data = tmp_path / "broken.jsonl"
    data.write_text('{"text": "fine"}\n{"text": "also fine"}\n{"text": oops}\n')
    with pytest.raises(BadInput, match=r"broken.jsonl: line 3 is not JSON"):
        _run(make_config(tiny_model), data, tmp_path / "run")


def test_row_without_text_field_names_its_line_and_keys(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", [{"text": "a b c"}, {"body": "no text here", "id": 2}])
    with pytest.raises(BadInput, match=r"rows.jsonl:2: row has no 'text' field.*keys are: body, id"):
        _run(make_config(tiny_model, eval={"val_fraction": 0.0}), data, tmp_path / "run")


def test_sequence_length_larger_than_the_models(tiny_model, counting_data, tmp_path):
    with pytest.raises(ConfigError, match="recipe_config.seq_len 1024 is larger than the model's max_position_embeddings 256"):
        _run(make_config(tiny_model, recipe_config={"seq_len": 1024}), counting_data, tmp_path / "run")


def test_negative_learning_rate_is_rejected(tiny_model, counting_data, tmp_path):
    with pytest.raises(ConfigError, match="learning_rate"):
        validate_config({"name": "x", "recipe": "causal-lm", "base_model": str(tiny_model), "dataset": "d",
                         "train": {"learning_rate": -1}})
    # A config built around validation (model_construct) is still caught by the engine.
    config = make_config(tiny_model)
    bad = config.model_copy(update={"train": config.train.model_construct(**{**dict(config.train),
                                                                             "learning_rate": -1.0})})
    with pytest.raises(ConfigError, match="train.learning_rate must be greater than 0, got -1"):
        _run(bad, counting_data, tmp_path / "run")


def test_missing_base_model_names_where_it_looked(counting_data, tmp_path):
    missing = tmp_path / "models" / "nope"
    # The same one-line reasons submit gives (spark_trainer.models.loading holds the one rule set).
    with pytest.raises(BadInput, match=rf"^base_model: {missing} does not exist$"):
        _run(make_config(missing), counting_data, tmp_path / "run")
    with pytest.raises(BadInput, match=r"^base_model: 'acme/not-cached' is not a local folder \(looked in: .*\) and not in the "
                                       r"Hugging Face cache .*download it first"):
        _run(make_config("acme/not-cached"), counting_data, tmp_path / "run")


def test_chat_rows_need_a_chat_template(tmp_path, counting_data):
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(tmp_path / "no-template")
    config_file = model / "tokenizer_config.json"
    import json

    tok_config = json.loads(config_file.read_text())
    tok_config.pop("chat_template", None)
    config_file.write_text(json.dumps(tok_config))
    (model / "chat_template.jinja").unlink(missing_ok=True)
    data = write_jsonl(tmp_path / "chat.jsonl", [{"messages": [{"role": "user", "content": "hi"},
                                                               {"role": "assistant", "content": "hello"}]}] * 3)
    with pytest.raises(ConfigError, match="chat rows need a chat template.*recipe_config.chat_template"):
        _run(make_config(model, eval={"val_fraction": 0.0}), data, tmp_path / "run")
