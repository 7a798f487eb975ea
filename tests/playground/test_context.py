"""A prompt and its answer must fit the model's context: a prompt that alone fills it is refused in one
line, an answer that would pass it is capped (and says so), a chat's oldest turns are left out; the
CLI and the model server say it without a traceback, and the model stays loaded."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from spark_trainer.cli.main import main
from spark_trainer.errors import BadInput
from spark_trainer.playground.context import context_length, fit, fit_conversation
from tests.playground.trained import TrainedRun

pytestmark = pytest.mark.timeout(1800)

LONG_PROMPT = "word " * 300  # about 300 tokens for the tiny tokenizer: past the tiny run's 128


def test_the_context_is_the_models_as_transformers_reads_it_else_the_tokenizers() -> None:
    from transformers import GPT2Config, LlamaConfig

    gpt2 = SimpleNamespace(config=GPT2Config(n_positions=128))  # GPT-2 names it n_positions
    assert context_length(gpt2) == 128
    llama = SimpleNamespace(config=LlamaConfig(max_position_embeddings=512))  # rotary, yet it declares one
    assert context_length(llama, SimpleNamespace(model_max_length=4096)) == 512
    bare = SimpleNamespace(config=SimpleNamespace())
    assert context_length(bare, SimpleNamespace(model_max_length=2048)) == 2048
    assert context_length(bare, SimpleNamespace(model_max_length=int(1e30))) is None  # transformers' "not set"


def test_a_prompt_that_fills_the_context_is_refused_and_a_long_answer_capped() -> None:
    with pytest.raises(BadInput) as refused:
        fit(list(range(1503)), 64, 128, "run 6's model")
    assert str(refused.value) == "the prompt is 1,503 tokens; run 6's model takes at most 128 (prompt and answer together)"
    with pytest.raises(BadInput):
        fit(list(range(128)), 1, 128, "run 6's model")  # no room for one token
    fitted = fit(list(range(100)), 200, 128, "run 6's model")
    assert fitted.max_new_tokens == 28 and fitted.capped
    assert fitted.said(reached_cap=True) == ("the answer was capped at 28 new tokens (not 200): run 6's model takes "
                                             "at most 128 tokens, prompt and answer together, and the prompt is 100")
    assert fitted.said(reached_cap=False) is None  # it ended sooner: the cap changed nothing
    assert fit(list(range(100)), 28, 128, "m").said(True) is None and not fit(list(range(10**4)), 5, None, "m").capped


def test_a_conversation_that_outgrew_the_context_loses_its_oldest_turns_not_its_system_message() -> None:
    history = [{"role": "system", "content": "s"}]
    for i in range(10):
        history += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]

    def encode(turns: list) -> list[int]:  # 10 tokens a turn, 10 for the new message
        return [0] * (10 * len(turns) + 10)

    fitted = fit_conversation(encode, history, 40, 128, "run 6's model")
    # 128 - 40 = 88 tokens for the prompt: the system message, the new message and 6 turns (3 exchanges).
    assert len(fitted.ids) == 80 and fitted.max_new_tokens == 40 and not fitted.capped
    assert fitted.said(True) == "the oldest 14 turns of the conversation were left out to fit run 6's model's context of 128 tokens"
    assert fit_conversation(encode, history[:3], 40, 128, "m").said(True) is None  # it fits: all of it is kept


def test_generate_refuses_a_prompt_longer_than_the_context_in_one_line(trained: TrainedRun, capsys) -> None:
    code = main(["--home", str(trained.home), "generate", str(trained.run_id), "--prompt", LONG_PROMPT,
                 "--max-new-tokens", "5"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: the prompt is ") and lines[0].endswith(
        f"tokens; run {trained.run_id}'s model takes at most 128 (prompt and answer together)")


def test_generate_caps_an_answer_that_would_pass_the_context_and_says_so(trained: TrainedRun, capsys) -> None:
    # The base model (random weights, greedy) runs on to the cap; the fine-tuned one ends by itself sooner.
    code = main(["--home", str(trained.home), "generate", str(trained.run_id), "--prompt", "word",
                 "--max-new-tokens", "200", "--temperature", "0", "--base"])
    _out, err = capsys.readouterr()
    assert code == 0, err
    assert "note: the answer was capped at " in err and "(not 200)" in err and "ended by context" in err
    code = main(["--home", str(trained.home), "--json", "generate", str(trained.run_id), "--prompt", "word",
                 "--max-new-tokens", "200", "--temperature", "0", "--compare"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["prompt_tokens"] + data["tokens"] < 128 and data["finish_reason"] == "eos" and "note" not in data
    base = data["base"]
    assert base["prompt_tokens"] + base["tokens"] == 128
    assert base["finish_reason"] == "context" and "capped" in base["note"]


def test_a_failure_inside_the_model_is_one_line_not_a_traceback(trained: TrainedRun, capsys, monkeypatch) -> None:
    from spark_trainer.playground.causal_lm import CausalLMGenerator

    def broken(*_args, **_kwargs):
        raise IndexError("index out of range in self")

    monkeypatch.setattr(CausalLMGenerator, "generate", broken)
    code = main(["--home", str(trained.home), "generate", str(trained.run_id), "--prompt", "word"])
    _out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert err.strip() == (f"error: run {trained.run_id}'s model failed while generating: IndexError: index out of "
                           "range in self (--debug shows where)")


def test_the_generator_leaves_out_a_long_chats_oldest_turns(trained: TrainedRun) -> None:
    from spark_trainer.playground.causal_lm import CausalLMGenerator
    from spark_trainer.playground.source import resolve_source
    from spark_trainer.store.store import Store

    with Store.open(trained.home) as store:
        source = resolve_source(store, trained.run_id, "last")
    gen = CausalLMGenerator()
    try:
        assert gen.load(source, "cpu")["context"] == 128
        history = [{"role": "user" if i % 2 == 0 else "assistant", "content": "word " * 20} for i in range(20)]
        settings = {"chat_template": True, "max_new_tokens": 8, "temperature": 0}
        out = gen.generate({"prompt": "hello", "history": history}, settings, base=False,
                           emit=lambda _t: None, should_stop=lambda: False)
        assert out["prompt_tokens"] + 8 <= 128 and "turns of the conversation were left out" in out["note"]
        with pytest.raises(BadInput, match="the prompt is"):  # the new message alone is too long
            gen.generate({"prompt": LONG_PROMPT, "history": history}, settings, base=False,
                         emit=lambda _t: None, should_stop=lambda: False)
    finally:
        gen.close()
