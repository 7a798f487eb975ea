"""The row formats causal-LM trains on: which one a dataset is, how each row reads, the errors a row
gets, and a real `train --wait` on Alpaca and ShareGPT files (which the recipe refused before)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spark_trainer.errors import BadInput
from spark_trainer.recipes import causal_lm_formats as formats
from spark_trainer.recipes import get_recipe
from spark_trainer.recipes.causal_lm import CausalLMConfig
from spark_trainer.recipes.fit import DataFacts

ALPACA = [{"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
          {"instruction": "Say hello.", "input": "", "output": "hello"}]
SHAREGPT = [{"conversations": [{"from": "system", "value": "be brief"}, {"from": "human", "value": "hi there"},
                               {"from": "gpt", "value": "hello"}, {"from": "human", "value": "count"},
                               {"from": "gpt", "value": "1 2 3"}]}]


def _detected(rows: list[dict]) -> str | None:
    return formats.detect(*formats.field_counts(rows))


@pytest.mark.parametrize("row, expected", [
    ({"text": "a b"}, "text"),
    ({"prompt": "p", "completion": "c"}, "prompt-completion"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages"),
    (SHAREGPT[0], "sharegpt"),
    (ALPACA[0], "alpaca"),
    ({"instruction": "i", "output": "o"}, "alpaca"),
    ({"instruction": "i", "context": "c", "response": "r", "category": "qa"}, "dolly"),
    ({"question": "q", "answer": "a"}, "question-answer"),
    ({"prompt": "p", "response": "r"}, "prompt-response"),
    # The order auto tries: a pre-formatted `text` beside the Alpaca fields (alpaca-gpt4) wins.
    ({"instruction": "i", "output": "o", "text": "### Instruction: i ### Response: o"}, "text"),
    ({"prompt": "p", "completion": "c", "response": "r"}, "prompt-completion"),
    ({"body": "b"}, None),
])
def test_each_format_is_detected_from_the_fields(row, expected):
    assert _detected([row]) == expected
    facts = DataFacts.counted("text", 1, dict(formats.field_counts([row])[0]))
    assert (get_recipe("causal-lm").data_problem(facts) is None) == (expected is not None)


def test_a_dataset_of_several_formats_is_read_row_by_row():
    assert _detected([ALPACA[0], {"text": "a"}]) == "mixed"
    assert _detected([{"text": "a"}, {"prompt": "p", "completion": "c"}, {"messages": [{"role": "user"}]}]) == "mixed"
    # One format's fields on only some rows, and no other format: rows without them are errors.
    assert _detected([ALPACA[0], {"instruction": "i"}]) == "alpaca"
    assert _detected([{"instruction": "i", "output": ""}]) is None  # an empty output fills nothing


def test_alpaca_rows_become_prompt_and_completion_through_the_alpaca_template():
    template = CausalLMConfig().template()
    with_input = formats.to_trainable(ALPACA[0], "alpaca", "a.jsonl:1", template)
    assert with_input == {"prompt": (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n"
        "### Input:\n2 and 3\n\n### Response:\n"), "completion": "5"}
    without = formats.to_trainable(ALPACA[1], "alpaca", "a.jsonl:2", template)
    assert without == {"prompt": (
        "Below is an instruction that describes a task. Write a response that appropriately completes the "
        "request.\n\n### Instruction:\nSay hello.\n\n### Response:\n"), "completion": "hello"}
    no_input_field = formats.to_trainable({"instruction": "Say hello.", "output": "hello"}, "alpaca", "x", template)
    assert no_input_field == without


def test_dolly_and_question_answer_rows_use_the_same_template():
    template = formats.PromptTemplate.of("Q: {instruction}\nC: {input}\nA:", "Q: {instruction}\nA:")
    dolly = {"instruction": "Who?", "context": "Ada wrote it.", "response": " Ada", "category": "closed_qa"}
    assert formats.to_trainable(dolly, "dolly", "d:1", template) == {"prompt": "Q: Who?\nC: Ada wrote it.\nA:",
                                                                     "completion": " Ada"}
    assert formats.to_trainable({"question": "2+2?", "answer": " 4"}, "question-answer", "q:1", template) == {
        "prompt": "Q: 2+2?\nA:", "completion": " 4"}
    assert formats.to_trainable({"prompt": "hi", "response": " yo"}, "prompt-response", "p:1", template) == {
        "prompt": "Q: hi\nA:", "completion": " yo"}


def test_a_custom_template_fills_only_its_placeholders():
    rc = CausalLMConfig(prompt_template='{"task": "{instruction}", "data": "{input}"} ->')
    assert rc.template().prompt("sum", "1 2") == '{"task": "sum", "data": "1 2"} ->'
    assert rc.template().prompt("sum") == '{"task": "sum", "data": ""} ->'  # no separate no-input template
    with pytest.raises(ValueError, match=r"must contain \{instruction\}"):
        CausalLMConfig(prompt_template="### Response:")


def test_sharegpt_turns_become_chat_messages():
    messages = formats.to_trainable(SHAREGPT[0], "sharegpt", "s.jsonl:1", formats.PromptTemplate())["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert messages[2] == {"role": "assistant", "content": "hello"}
    row = {"conversations": [{"from": "user", "value": "a"}, {"from": "model", "value": "b"},
                             {"from": "assistant", "value": "c"}]}
    assert [m["role"] for m in formats.to_trainable(row, "sharegpt", "s:1", formats.PromptTemplate())["messages"]] \
        == ["user", "assistant", "assistant"]


def test_a_bad_sharegpt_speaker_is_one_line_naming_the_row():
    row = {"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "yo"}]}
    with pytest.raises(BadInput) as err:
        formats.to_trainable(row, "sharegpt", "chats.jsonl:7", formats.PromptTemplate())
    assert str(err.value) == ("chats.jsonl:7: conversations[1] is from 'bot', not a ShareGPT role (human, user, "
                              "gpt, assistant, model, system)")


def test_an_alpaca_row_without_output_is_one_line_naming_the_row():
    with pytest.raises(BadInput) as err:
        formats.to_trainable({"instruction": "i", "input": "x"}, "alpaca", "a.jsonl:3", formats.PromptTemplate(),
                             "detected from the dataset's fields")
    assert str(err.value) == ("a.jsonl:3: row has no 'output' field (format alpaca: instruction, optional input, "
                              "output; detected from the dataset's fields); its keys are: input, instruction")
    assert "\n" not in str(err.value)


def test_mixed_reads_each_row_by_its_own_fields():
    template = formats.PromptTemplate()
    assert formats.to_trainable({"text": "t"}, "mixed", "m:1", template) == {"text": "t"}
    assert formats.to_trainable(ALPACA[0], "mixed", "m:2", template)["completion"] == "5"
    with pytest.raises(BadInput, match=r"^m:3: row matches no causal-LM format .*its keys are: body$"):
        formats.to_trainable({"body": "b"}, "mixed", "m:3", template)


def test_a_named_format_the_dataset_lacks_is_refused_from_its_facts():
    facts = DataFacts.counted("text", 2, {"text": 2})
    why = get_recipe("causal-lm").data_problem(facts, {"format": "alpaca"})
    assert why == ("its records have no 'instruction' or 'output' field (recipe_config.format: alpaca (instruction, "
                   "optional input, output)); fields: text")
    assert get_recipe("causal-lm").data_problem(facts, {"format": "mixed"}) is None


def test_submit_decides_auto_from_the_datasets_counts_or_else_from_its_rows(tmp_path):
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from tests.training.helpers import make_config

    spec = get_recipe("causal-lm")
    assert spec.decided(DataFacts.counted("text", 2, {"instruction": 2, "output": 2})) == {"format": "alpaca"}
    assert spec.decided(DataFacts.counted("text", 2, {"text": 1, "prompt": 1, "completion": 1})) == {"format": "mixed"}
    assert spec.decided(DataFacts.counted("text", 2, {"text": 2}), {"format": "alpaca"}) == {}  # named: kept
    assert spec.decided(DataFacts("text")) == {}  # counts unknown (too many fields): the rows decide
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in SHAREGPT))
    assert CausalLMRecipe(make_config("m")).check_data(data) == {"format": "sharegpt"}
    # Text, prompt/completion and chat rows are left to the run, which reads them anyway: not read twice.
    (tmp_path / "big.jsonl").write_text("not JSON, and not read\n")
    assert CausalLMRecipe(make_config("m", recipe_config={"format": "text"})).check_data(tmp_path / "big.jsonl") == {}


# ---- a real run ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny", vocab_size=300, hidden_size=32,
                                 num_layers=1, num_heads=2)


def _run_file(tmp_path: Path, model: Path, name: str, rows: list[dict], **recipe_config) -> Path:
    data = tmp_path / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = {"project": "formats", "name": name, "recipe": "causal-lm", "base_model": str(model), "dataset": str(data),
           "gpus": "cpu", "train": {"max_steps": 3, "batch_size": 2, "learning_rate": 1e-3},
           "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 256, **recipe_config},
           "eval": {"every_steps": None, "val_fraction": 0.0},
           "checkpoint": {"every_steps": 3, "keep": 1}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(run))
    return path


def alpaca_rows(n: int = 12) -> list[dict]:
    return [{"instruction": f"Count up from {i}.", "input": "" if i % 2 else f"step {i % 3 + 1}",
             "output": " ".join(str(i + k) for k in range(4))} for i in range(n)]


def sharegpt_rows(n: int = 12) -> list[dict]:
    return [{"conversations": [{"from": "human", "value": f"Count up from {i}."},
                               {"from": "gpt", "value": " ".join(str(i + k) for k in range(4))}]} for i in range(n)]


@pytest.mark.parametrize("name, rows, fmt", [("alpaca", alpaca_rows(), "alpaca"),
                                             ("sharegpt", sharegpt_rows(), "sharegpt")])
def test_train_completes_on_an_instruction_or_sharegpt_file(store, cli, tmp_path, tiny_lm, name, rows, fmt):
    """Submitted by `train`, trained by the worker's code in this process (tests/worker_here.py)."""
    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from tests.worker_here import queued_only, work_here

    with queued_only():
        result = cli("--json", "train", str(_run_file(tmp_path, tiny_lm, name, rows)))
    assert result.code == 0, result.err
    assert work_here(store, result.json()["id"]) == 0
    run = runs.list_all(store)[0]
    assert (run.status, run.step) == (RunStatus.COMPLETED, 3)
    assert frozen_config(Path(run.run_dir)).recipe_config["format"] == fmt  # decided once, frozen with the run
    assert f"rows read as {formats.describe(fmt)}" in cli("run", "logs", str(run.id)).out


def test_a_bad_row_is_refused_at_submit_naming_its_line(store, cli, tmp_path, tiny_lm):
    from spark_trainer.store import runs

    rows = [*alpaca_rows(3), {"instruction": "Say hi.", "input": ""}]
    result = cli("train", str(_run_file(tmp_path, tiny_lm, "short", rows)))
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "error: short.jsonl:4: row has no 'output' field (format alpaca: instruction, optional input, output); its "
        "keys are: input, instruction"]
    assert runs.list_all(store) == []


@pytest.mark.parametrize("fmt", ["auto", "sharegpt"])
def test_submits_check_reads_an_ingested_dataset_as_a_stream(tmp_path, monkeypatch, fmt):
    """Submit's check of converted rows held every record of the dataset (1M rows: 2.5 GB, in the app's
    process too): an ingested dataset is read as a stream, with the same answer, and a bad row is still
    named by its line."""
    from spark_trainer.recipes import causal_lm_impl
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from tests.recipes.helpers import ingested_jsonl
    from tests.training.helpers import make_config

    folder = ingested_jsonl(tmp_path / "good", SHAREGPT)
    monkeypatch.setattr(causal_lm_impl, "read_records", lambda *_a: pytest.fail("read the dataset whole"))
    decided = CausalLMRecipe(make_config("m", recipe_config={"format": fmt})).check_data(folder)
    assert decided == ({"format": "sharegpt"} if fmt == "auto" else {})
    bad = [*SHAREGPT, {"conversations": [{"from": "bot", "value": "hi"}]}]
    folder = ingested_jsonl(tmp_path / "bad", bad)
    with pytest.raises(BadInput, match="is from 'bot', not a ShareGPT role"):
        CausalLMRecipe(make_config("m", recipe_config={"format": fmt})).check_data(folder)


def test_numbers_read_as_text_and_a_wrong_type_is_named():
    """A numeric answer or context (`{"question": "2+2?", "answer": 4}`) is text to train on; before, the row
    was refused with "row has no 'answer' field", and a numeric Dolly context with "must be text"."""
    template = formats.PromptTemplate.of("Q: {instruction}\nC: {input}\nA:", "Q: {instruction}\nA:")
    assert _detected([{"question": "2+2?", "answer": 4}]) == "question-answer"
    assert formats.to_trainable({"question": "2+2?", "answer": 4}, "question-answer", "q:1", template) == {
        "prompt": "Q: 2+2?\nA:", "completion": "4"}
    dolly = {"instruction": "Double it.", "context": 21, "response": 42.5}
    assert formats.to_trainable(dolly, "dolly", "d:1", template) == {"prompt": "Q: Double it.\nC: 21\nA:",
                                                                     "completion": "42.5"}
    assert formats.to_trainable({**dolly, "context": float("nan")}, "dolly", "d:2", template)["prompt"] == \
        "Q: Double it.\nA:"
    assert formats.to_trainable({"text": 7}, "mixed", "m:1", template) == {"text": "7"}
    with pytest.raises(BadInput) as err:
        formats.to_trainable({"question": "Is it?", "answer": True}, "question-answer", "b.jsonl:4", template)
    assert str(err.value) == "b.jsonl:4: row's 'answer' is bool, not text (format question-answer: question, answer)"
    with pytest.raises(BadInput, match=r"^a:1: row has no 'output' field \(.*its keys are: input, instruction; "
                                       r"'instruction' is list, not text$"):
        formats.to_trainable({"instruction": ["x"], "input": ""}, "alpaca", "a:1", template)
