"""Chat rows need a chat template: a model whose tokenizer has none (and no `recipe_config.chat_template`)
is refused when the run is submitted, naming the field, instead of by its worker once the model was
loaded (a queued night later). Read from the model folder's files, without loading the tokenizer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spark_trainer.errors import ConfigError
from spark_trainer.recipes.causal_lm_chat import check_at_submit, lacks_chat_template
from spark_trainer.store import datasets, runs


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny model as made (its template in chat_template.jinja), and a copy without one."""
    from spark_trainer.models.tiny import create_tiny_causal_lm

    root = tmp_path_factory.mktemp("models")
    with_template = create_tiny_causal_lm(root / "chat")
    without = root / "plain"
    shutil.copytree(with_template, without)
    for name in ("chat_template.jinja", "chat_template.json"):
        (without / name).unlink(missing_ok=True)
    config = json.loads((without / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (without / "tokenizer_config.json").write_text(json.dumps(config))
    return with_template, without


def test_a_folder_without_a_template_is_told_from_one_with(models, tmp_path: Path) -> None:
    with_template, without = models
    assert not lacks_chat_template(with_template) and lacks_chat_template(without)
    inline = tmp_path / "inline"
    shutil.copytree(without, inline)
    config = json.loads((inline / "tokenizer_config.json").read_text())
    (inline / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": "{{ messages }}"}))
    assert not lacks_chat_template(inline)  # older transformers kept it in tokenizer_config.json
    assert not lacks_chat_template(tmp_path / "not-there")  # unreadable: left to the worker

    with pytest.raises(ConfigError, match=r"^recipe_config.chat_template: the rows are chat conversations \(format "
                                          r"sharegpt\) and the tokenizer in .+ has no chat template; set"):
        check_at_submit("sharegpt", None, lambda: without)
    check_at_submit("sharegpt", "{{ messages }}", lambda: without)  # set in recipe_config: trains
    check_at_submit("text", None, lambda: without)  # not chat rows


def test_train_refuses_chat_rows_for_a_model_without_a_template(models, tmp_path: Path, store, cli) -> None:
    _with_template, without = models
    rows = tmp_path / "chat.jsonl"
    rows.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"hi {i}"},
                                                      {"role": "assistant", "content": f"hello {i}"}]}) + "\n"
                            for i in range(20)))
    run_file = tmp_path / "run.yaml"
    run_file.write_text(f"project: p\nname: chat\nrecipe: causal-lm\nbase_model: {without}\ndataset: {rows}\n"
                        "gpus: cpu\ntrain: {max_steps: 2, batch_size: 2}\n")
    refused = cli("train", run_file)
    assert refused.code == 2, refused.err
    assert refused.err.startswith("error: recipe_config.chat_template: the rows are chat conversations (format "
                                  f"messages) and the tokenizer in {without} has no chat template"), refused.err
    assert runs.list_all(store) == [] and datasets.list_all(store) == []  # nothing queued, nothing kept

    run_file.write_text(run_file.read_text() + "recipe_config: {chat_template: '{% for m in messages %}"
                        "{{ m.content }}{% endfor %}'}\n")
    cli("queue", "hold")  # queued, not trained: submit's checks are what is tested
    assert cli("train", run_file).code == 0
