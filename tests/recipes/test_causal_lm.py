"""The causal-LM recipe: how each data format becomes tokens and training targets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from spark_trainer.recipes import describe_fields, get_recipe
from spark_trainer.training import packing
from spark_trainer.training.data import Record
from tests.training.helpers import make_config


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("m") / "tiny", max_position_embeddings=256)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, tiny_model_dir):
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    model = tiny_model_dir
    data = tmp_path_factory.mktemp("d") / "d.jsonl"
    data.write_text('{"text": "hello world"}\n')
    # `mixed`: each row read by its own fields, as the tests below encode rows of every format
    r = CausalLMRecipe(make_config(model, eval={"val_fraction": 0.0}, recipe_config={"format": "mixed", "seq_len": 256}))
    r.prepare(data)
    return r


def _decode_trained(recipe, example) -> str:
    ids = [t for t, keep in zip(example.input_ids, example.train_mask, strict=True) if keep]
    return recipe.tokenizer.decode(ids)


def test_text_rows_train_on_every_token_and_end_with_eos(recipe):
    ex = recipe.encode(Record({"text": "count 1 2 3"}, "d.jsonl:1", "train"))
    assert ex.input_ids[0] == recipe.tokenizer.bos_token_id and ex.input_ids[-1] == recipe.tokenizer.eos_token_id
    assert all(ex.train_mask)


def test_the_tiny_models_tokenizer_encodes_a_prompt_as_training_did(recipe):
    """The demo model's exported folder, used as its card says (`tokenizer(prompt)`), must see the tokens
    training saw: the recipe starts every row with BOS, and the tiny tokenizer did not add it, so the
    stock model answered differently from the Playground."""
    from transformers import AutoTokenizer

    ex = recipe.encode(Record({"prompt": "Count up from 3:", "completion": " 3 4"}, "d.jsonl:1", "train"))
    prompt_len = ex.train_mask.index(True)
    stock = AutoTokenizer.from_pretrained(recipe.tokenizer.name_or_path)
    assert stock("Count up from 3:")["input_ids"] == ex.input_ids[:prompt_len]


def test_prompt_completion_trains_on_the_completion_only(recipe):
    ex = recipe.encode(Record({"prompt": "Question: 2+2?", "completion": " Answer: 4"}, "d.jsonl:1", "train"))
    assert _decode_trained(recipe, ex) == " Answer: 4</s>"
    assert not any(ex.train_mask[:3])


def test_chat_trains_on_assistant_turns_only(recipe):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"},
                {"role": "assistant", "content": "hello"}, {"role": "user", "content": "count"},
                {"role": "assistant", "content": "1 2 3"}]
    ex = recipe.encode(Record({"messages": messages}, "chat.jsonl:7", "train"))
    trained = _decode_trained(recipe, ex)
    assert "hello" in trained and "1 2 3" in trained
    assert "hi there" not in trained and "be brief" not in trained and "<|user|>" not in trained


ALPACA_WITH_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                     "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
                     "Add the numbers.\n\n### Input:\n2 and 3\n\n### Response:\n")
ALPACA_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately completes "
                   "the request.\n\n### Instruction:\nSay hello.\n\n### Response:\n")


@pytest.mark.parametrize("row, prompt, answer", [
    ({"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}, ALPACA_WITH_INPUT, "5"),
    ({"instruction": "Say hello.", "input": "", "output": "hello there"}, ALPACA_NO_INPUT, "hello there"),
])
def test_an_alpaca_row_is_its_templated_prompt_then_its_answer_trained(recipe, row, prompt, answer):
    """Refused before ("row has no 'text' field"): trained now as the Alpaca prompt, the answer the
    only target (completion_only_loss), as a prompt/completion row of the same texts."""
    tok = recipe.tokenizer
    ex = recipe.encode(Record(row, "alpaca.jsonl:1", "train"))
    prompt_ids = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert list(ex.input_ids) == prompt_ids + answer_ids
    assert list(ex.train_mask) == [False] * len(prompt_ids) + [True] * len(answer_ids)
    assert ex == recipe.encode(Record({"prompt": prompt, "completion": answer}, "pc.jsonl:1", "train"))


def test_a_sharegpt_conversation_trains_on_the_assistant_turns_only(recipe):
    """Refused before: `conversations` turns read as chat messages, through the chat template."""
    tok = recipe.tokenizer
    turns = [("system", "be brief"), ("human", "hi there"), ("gpt", "hello"), ("human", "count"), ("gpt", "1 2 3")]
    row = {"conversations": [{"from": who, "value": text} for who, text in turns]}
    ex = recipe.encode(Record(row, "chats.jsonl:1", "train"))
    text = ("<s><|system|>\nbe brief</s>\n<|user|>\nhi there</s>\n<|assistant|>\nhello</s>\n<|user|>\ncount</s>\n"
            "<|assistant|>\n1 2 3</s>\n")
    assert list(ex.input_ids) == tok(text, add_special_tokens=False)["input_ids"]
    assert _decode_trained(recipe, ex) == "hello</s>\n1 2 3</s>\n"
    trained = [i for i, keep in enumerate(ex.train_mask) if keep]
    assert tok.decode(ex.input_ids[trained[0]:trained[-1] + 1]).startswith("hello</s>\n<|user|>")  # two spans
    messages = [{"role": {"human": "user", "gpt": "assistant"}.get(w, w), "content": t} for w, t in turns]
    assert ex == recipe.encode(Record({"messages": messages}, "chat.jsonl:1", "train"))


def test_bad_chat_rows_name_their_line(recipe):
    from spark_trainer.errors import BadInput

    with pytest.raises(BadInput, match=r"chat.jsonl:4: messages\[0\] needs 'role' and 'content' strings"):
        recipe.encode(Record({"messages": [{"role": "user"}]}, "chat.jsonl:4", "train"))


def test_a_chat_row_with_a_role_no_template_knows_is_refused(recipe):
    """A typo in a role ("assistent") left the row with no assistant turn, so completion-only loss fell
    back to training on every token, the user's turns included, unsaid."""
    from spark_trainer.errors import BadInput

    def encode(role: str) -> None:
        turns = [{"role": "user", "content": "hi"}, {"role": role, "content": "hello"}]
        recipe.encode(Record({"messages": turns}, "chat.jsonl:7", "train"))

    with pytest.raises(BadInput) as typo:
        encode("assistent")
    assert str(typo.value) == ("chat.jsonl:7: messages[1] has role 'assistent', not a chat role "
                               "(system, developer, user, assistant, tool, ipython)")
    with pytest.raises(BadInput, match=r"'gpt' is ShareGPT's word; a messages row says 'assistant'"):
        encode("gpt")
    encode("assistant")


def test_long_rows_are_truncated_to_seq_len(recipe):
    ex = recipe.encode(Record({"text": "word " * 400}, "d.jsonl:1", "train"))
    assert len(ex.input_ids) == recipe.rc.seq_len


def test_recipe_config_lists_fields_with_defaults_and_choices():
    fields = {f["name"]: f for f in describe_fields(get_recipe("causal-lm").config_model)}
    assert fields["method"]["choices"] == ["lora", "qlora", "dora", "full"]
    assert fields["attention"]["default"] == "auto" and fields["lora_r"]["min"] == 1
    assert get_recipe("causal-lm").load().__name__ == "CausalLMRecipe"


def test_qlora_without_bitsandbytes_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    from spark_trainer.errors import ConfigError
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes" else real_find_spec(name, *a))
    model = create_tiny_causal_lm(tmp_path / "tiny")
    r = CausalLMRecipe(make_config(model, recipe_config={"method": "qlora"}))
    with pytest.raises(ConfigError, match="method qlora needs the bitsandbytes package"):
        r.prepare(tmp_path / "unused.jsonl")


def test_relative_base_model_is_found_in_the_data_home(tmp_path, monkeypatch):
    from spark_trainer.models.loading import resolve_base_model
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    monkeypatch.setenv("SPARK_TRAINER_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    create_tiny_causal_lm(tmp_path / "home" / "models" / "tiny-llama")
    recipe = CausalLMRecipe(make_config("tiny-llama"))
    assert resolve_base_model("tiny-llama", search_dirs=recipe.search_dirs()) == (
        tmp_path / "home" / "models" / "tiny-llama").resolve()
    assert resolve_base_model("models/tiny-llama", search_dirs=recipe.search_dirs()).name == "tiny-llama"


def test_a_tokenizer_that_adds_no_bos_trains_without_one(tmp_path):
    """GPT-2-style tokenizers (GPT-2, Pythia...) name a BOS token but never add it: the recipe put
    it before every row anyway, so the exported model, prompted the plain way (`tokenizer(prompt)`, the
    text-generation pipeline), met inputs unlike anything it was trained on."""
    from tokenizers import processors
    from transformers import AutoTokenizer

    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    model = create_tiny_causal_lm(tmp_path / "gpt2-style", vocab_size=300, hidden_size=32, num_layers=1,
                                  num_heads=2, max_position_embeddings=256)
    tok = AutoTokenizer.from_pretrained(model)
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(single="$A", pair="$A $B")
    tok.save_pretrained(model)
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "hello", "completion": " world"}\n')  # a prompt/completion dataset
    recipe = CausalLMRecipe(make_config(model, eval={"val_fraction": 0.0}))
    recipe.prepare(data)
    stock = AutoTokenizer.from_pretrained(model)
    assert stock.bos_token_id is not None and stock("count 1 2")["input_ids"][0] != stock.bos_token_id
    ex = recipe.encode(Record({"prompt": "count 1 2", "completion": " 3"}, "d.jsonl:1", "train"))
    assert ex.input_ids[:ex.train_mask.index(True)] == stock("count 1 2")["input_ids"]

    # bos_token: always (what runs frozen before the setting did) puts the BOS first anyway.
    always = CausalLMRecipe(make_config(model, eval={"val_fraction": 0.0}, recipe_config={"bos_token": "always"}))
    always.prepare(data)
    ex = always.encode(Record({"prompt": "count 1 2", "completion": " 3"}, "d.jsonl:1", "train"))
    assert ex.input_ids[:ex.train_mask.index(True)] == [stock.bos_token_id] + stock("count 1 2")["input_ids"]


@pytest.mark.parametrize(("setting", "compile_setting", "device", "expected"), [
    ("auto", "auto", "cpu", "spark_varlen"),
    ("auto", True, "cpu", "sdpa"),  # a compiled varlen model would recompile at every new batch shape
    ("auto", "auto", "cuda", "flex_attention"),
    ("sdpa", "auto", "cpu", "sdpa"),
    ("varlen", "auto", "cuda", "spark_varlen"),
])
def test_the_run_files_attention_setting_picks_the_implementation(setting, compile_setting, device, expected,
                                                                  monkeypatch):
    from spark_trainer.recipes.causal_lm_impl import attention_for
    from spark_trainer.training import compiling

    monkeypatch.setattr(compiling, "cannot_build", lambda: None)  # kernels can be built (see test_compiling)

    assert attention_for(setting, compile_setting, device) == expected


def _config_only(tmp_path, kind: str, *, weights: bool = False):
    import transformers as tf

    sizes = dict(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=8)
    config = {
        "llama": lambda: tf.LlamaConfig(**sizes),
        "mistral-4": lambda: tf.MistralConfig(sliding_window=4, **sizes),
        "mistral-4096": lambda: tf.MistralConfig(sliding_window=4096, **sizes),
        "gemma2": lambda: tf.Gemma2Config(sliding_window=4096, **sizes),
        "bloom": lambda: tf.BloomConfig(n_layer=1, hidden_size=32, n_head=2, vocab_size=100),
        "falcon": lambda: tf.FalconConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, vocab_size=100),
        "mpt": lambda: tf.MptConfig(n_layers=2, d_model=32, n_heads=2, vocab_size=100),
    }[kind]()
    if weights:  # random ones
        tf.AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / kind)
    else:
        config.save_pretrained(tmp_path / kind)
    return tmp_path / kind


@pytest.mark.parametrize(("kind", "device", "expected"), [
    ("llama", "cpu", ("spark_varlen", False, None)),
    ("llama", "cuda", ("flex_attention", False, None)),
    ("mistral-4096", "cpu", ("spark_varlen", False, None)),  # rows of 512 never outgrow the window
    ("mistral-4", "cpu", ("sdpa", True, 4)),  # the model's masks apply its window
    ("mistral-4", "cuda", ("sdpa", True, 4)),
    ("gemma2", "cpu", ("eager", True, None)),  # no sdpa (soft-capped logits); eager adds masks as floats
    ("gemma2", "cuda", ("flex_attention", False, None)),
    ("falcon", "cpu", ("sdpa", False, None)),  # its own attention code ignores a varlen plan, takes the mask
    ("bloom", "cpu", ("eager", True, None)),  # neither sdpa nor the attention interface
])
def test_the_attention_follows_what_the_model_can_do(tmp_path, kind, device, expected, monkeypatch):
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from spark_trainer.training import compiling

    monkeypatch.setattr(compiling, "cannot_build", lambda: None)  # kernels can be built (see test_compiling)
    recipe = CausalLMRecipe(make_config(_config_only(tmp_path, kind), recipe_config={"seq_len": 512}))
    recipe.model_dir = tmp_path / kind  # what prepare() resolves
    assert recipe.attention_implementation(device) == expected


@pytest.mark.parametrize(("kind", "expected"), [
    ("llama", ("spark_varlen", False, None)),  # as on the CPU: flex attention would compile itself
    ("gemma2", ("eager", True, None)),
])
def test_on_cuda_where_kernels_cannot_be_built_attention_needs_no_compiler(tmp_path, kind, expected, monkeypatch):
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from spark_trainer.training import compiling

    monkeypatch.setattr(compiling, "cannot_build", lambda: "the packaged app cannot build compiled kernels")
    recipe = CausalLMRecipe(make_config(_config_only(tmp_path, kind), recipe_config={"seq_len": 512}))
    recipe.model_dir = tmp_path / kind  # what prepare() resolves
    assert recipe.attention_implementation("cuda") == expected


def _packed_recipe(tmp_path, kind):
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from tests.training.test_packing import _examples

    # all-linear: the usual q_proj,... names are Llama's; MPT's and Bloom's layers are named otherwise
    recipe = CausalLMRecipe(make_config(_config_only(tmp_path, kind, weights=True),
                                        recipe_config={"seq_len": 64, "target_modules": "all-linear"}))
    recipe.model_dir = tmp_path / kind
    examples = _examples([17, 9, 25, 5, 30, 12], vocab=100)
    recipe._examples = (examples[:4], examples[4:])
    recipe.train_data, recipe.val_data = packing.pack(examples[:4], 64), packing.pack(examples[4:], 64)
    assert len(recipe.train_data) == 1
    return recipe


@pytest.mark.parametrize(("kind", "precision"), [("mpt", "fp32"), ("bloom", "bf16")])
def test_a_model_that_lets_packed_examples_meet_trains_one_example_per_row(tmp_path, kind, precision):
    """MPT builds its masks its own way, Bloom's ALiBi counts from the row's start: packed examples
    would attend to each other, so the recipe unpacks its rows when it builds the model and says so
    in the run's log. In bf16 a random-weight Bloom leaks less than the load-time check can tell from
    rounding; the model type alone decides."""
    import torch

    recipe = _packed_recipe(tmp_path, kind)
    recipe.build_model(torch.device("cpu"), precision)
    assert not recipe.packed and recipe.packing_efficiency is None
    assert [len(row) for row in recipe.train_data] == [1, 1, 1, 1] and len(recipe.val_data) == 2
    assert recipe.model_notes == ["attention: eager with masks the model builds for each layer (eager takes no mask "
                                  "of ours)", f"packing: off, {kind} lets examples packed in a row see each other on "
                                  "this attention path; one example per row"]
    recipe.tokenizer = SimpleNamespace(pad_token_id=0)  # what prepare() loads
    batch = recipe.collate(recipe.train_data[:2])
    assert batch["input_ids"].shape == (2, 17)  # padded to the longer example, not to seq_len


def test_the_packed_examples_check_runs_on_the_first_model_built_only(tmp_path, monkeypatch):
    """A sharded run builds the model again on the CPU to save it: the check (a forward pass through
    the whole model, past its window) is not repeated there."""
    import torch

    from spark_trainer.recipes import causal_lm_model

    checks = []
    real = causal_lm_model.examples_stay_apart
    monkeypatch.setattr(causal_lm_model, "examples_stay_apart", lambda *a, **k: checks.append(1) or real(*a, **k))
    recipe = _packed_recipe(tmp_path, "mistral-4")
    recipe.build_model(torch.device("cpu"), "fp32")
    assert checks == [1] and recipe.packed and recipe.window == 4
    recipe.build_model(torch.device("cpu"), "fp32")
    assert checks == [1] and recipe.packed


def test_a_sliding_window_model_trains_with_its_window(tmp_path, tiny_model_dir):
    """A Mistral with an 8-token window (the tiny Llama's weights fit it) trains end to end; its log
    names the model's own masks and its rows stay packed (its masks keep examples apart)."""
    import json
    import shutil

    from spark_trainer.training.engine import run_training
    from spark_trainer.training.reporting import Commands
    from tests.training.helpers import RecordingReporter, counting_rows, write_jsonl

    model = tmp_path / "mistral"
    shutil.copytree(tiny_model_dir, model)
    config = json.loads((model / "config.json").read_text())
    config.update(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=8)
    (model / "config.json").write_text(json.dumps(config))
    data = write_jsonl(tmp_path / "d.jsonl", counting_rows(60))
    run = make_config(model, train={"max_steps": 3}, recipe_config={"seq_len": 64})
    reporter = RecordingReporter(Commands())
    outcome = run_training(run, data_path=data, run_dir=tmp_path / "run", reporter=reporter, commands=Commands())
    assert outcome.status == "completed" and outcome.step == 3
    log = "\n".join(reporter.logs)
    assert ("attention: sdpa with masks the model builds for each layer (for its 8-token sliding window), "
            "packed examples told apart by their position ids") in log
    assert "packing: off" not in log


def test_evaluations_run_on_eval_max_rows_examples_spread_over_the_split(tmp_path, tiny_model_dir):
    """A 1M-row dataset's 10% split made every evaluation (and the final one) 100,000 examples: each
    runs on `eval_max_rows` of them, spread over the split, the same ones every time (and every run),
    and training keeps every row."""
    import json

    from spark_trainer.config.legacy import with_frozen_defaults
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i} " + "word " * (i % 9)}) + "\n" for i in range(120)))

    def prepared(**settings):
        recipe = CausalLMRecipe(make_config(tiny_model_dir, eval={"val_fraction": 0.5},
                                            recipe_config={"seq_len": 64, "packing": False, **settings}))
        recipe.prepare(data)
        return recipe

    def ids(examples) -> list[list[int]]:
        return [list(map(int, e.input_ids)) for e in examples]

    whole, capped, again = prepared(eval_max_rows=None), prepared(eval_max_rows=7), prepared(eval_max_rows=7)
    val = ids(whole._examples[1])
    assert len(val) == len(whole.val_data) > 40
    assert ids(capped._examples[1]) == [val[i * len(val) // 7] for i in range(7)] == ids(again._examples[1])
    assert len(capped.val_data) == 7 and ids(capped._examples[0]) == ids(whole._examples[0])
    assert f"evaluating on 7 of the {len(val)} validation examples, the same ones every time " \
           "(recipe_config.eval_max_rows)" in capped.log_notes()
    assert not any(n.startswith("evaluating on") for n in whole.log_notes() + prepared().log_notes())
    assert len(prepared().val_data) == len(val)  # the default (2,000) is more than this split holds
    # A run frozen before the setting existed evaluates on every validation example, as it began.
    old = with_frozen_defaults({"recipe": "causal-lm", "recipe_config": {"method": "lora"}})[0]
    assert old["recipe_config"]["eval_max_rows"] is None
    assert {f["name"]: f for f in describe_fields(get_recipe("causal-lm").config_model)}["eval_max_rows"]["default"] == 2000


def test_answers_cut_away_by_seq_len_are_named_as_the_reason_nothing_trains(tmp_path, tiny_model_dir):
    # Prompts that fill seq_len leave every completion beyond it: the run failed with "no training row
    # has any token to learn from", naming neither seq_len nor the prompts.
    from spark_trainer.errors import BadInput
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    data = tmp_path / "long.jsonl"
    data.write_text("".join(f'{{"prompt": "{"a long question " * 20}{i}", "completion": " yes"}}\n' for i in range(3)))
    recipe = CausalLMRecipe(make_config(tiny_model_dir, eval={"val_fraction": 0.0}, recipe_config={"seq_len": 16}))
    with pytest.raises(BadInput) as refused:
        recipe.prepare(data)
    assert str(refused.value) == (
        f"dataset {data}: no training row has any token to learn from: in 3 rows all it trains on (the completion, "
        "answer or assistant turns) lies beyond recipe_config.seq_len, 16 tokens of this tokenizer; raise seq_len")


def test_seq_len_past_the_models_positions_is_refused_at_submit(tmp_path, tiny_model_dir):
    # It was refused only in the worker, once the run was queued and had read its data.
    from spark_trainer.errors import ConfigError
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hello world"}\n')
    too_long = CausalLMRecipe(make_config(tiny_model_dir, recipe_config={"seq_len": 512, "format": "text"}))
    with pytest.raises(ConfigError) as refused:
        too_long.check_data(data)
    assert str(refused.value) == (f"recipe_config.seq_len 512 is larger than the model's max_position_embeddings 256 "
                                  f"({tiny_model_dir.resolve()})")
    CausalLMRecipe(make_config(tiny_model_dir, recipe_config={"seq_len": 256, "format": "text"})).check_data(data)
    # A model not there yet (`exp create` may name one) is left to `run start` and the worker.
    CausalLMRecipe(make_config(tmp_path / "later", recipe_config={"seq_len": 512, "format": "text"})).check_data(data)
