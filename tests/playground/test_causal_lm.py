"""The causal-LM generator on a run trained on Alpaca rows: the prompt is given to the model as the
instruction in the run's prompt template (on by default, a setting to turn off), as training saw it."""

from __future__ import annotations

import json

import pytest

from spark_trainer.cli.main import main
from tests.playground.trained import TrainedRun, train_tiny_alpaca_run

pytestmark = pytest.mark.timeout(1800)

NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
            "request.\n\n### Instruction:\n{}\n\n### Response:\n")


@pytest.fixture(scope="module")
def alpaca_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    return train_tiny_alpaca_run(tmp_path_factory.mktemp("alpaca") / "home")


@pytest.fixture(scope="module")
def generator(alpaca_run: TrainedRun):
    from spark_trainer.playground.causal_lm import CausalLMGenerator
    from spark_trainer.playground.source import resolve_source
    from spark_trainer.store.store import Store

    with Store.open(alpaca_run.home) as store:
        source = resolve_source(store, alpaca_run.run_id, "last")
    gen = CausalLMGenerator()
    gen.facts = gen.load(source, "cpu")
    yield gen
    gen.close()


def _ids_given(generator, settings: dict) -> list[int]:
    """The input ids the model's first forward pass gets when answering 'Count up from 3.'."""
    seen: list[list[int]] = []
    inner = generator.model.get_base_model()
    hook = inner.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(kwargs["input_ids"][0].tolist()) if not seen else None, with_kwargs=True)
    try:
        generator.generate({"prompt": "Count up from 3."}, {"max_new_tokens": 1, "temperature": 0, **settings},
                           base=False, emit=lambda _t: None, should_stop=lambda: False)
    finally:
        hook.remove()
    return seen[0]


def test_the_model_is_given_the_prompt_as_training_gave_its_instructions(generator, alpaca_run) -> None:
    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe
    from spark_trainer.training.data import Record

    assert generator.facts["format"] == "alpaca" and generator.facts["prompt_template"] is True
    tok = generator.tokenizer
    wrapped = _ids_given(generator, {})
    assert wrapped == tok(NO_INPUT.format("Count up from 3."))["input_ids"]  # the tiny tokenizer adds the BOS
    # Exactly the ids a training row's prompt had, up to its first trained token.
    recipe = CausalLMRecipe(frozen_config(alpaca_run.run_dir))
    recipe.tokenizer, recipe.format = tok, "alpaca"
    row = recipe.encode(Record({"instruction": "Count up from 3.", "input": "", "output": " 3 4"}, "a:1", "train"))
    assert wrapped == list(row.input_ids[:list(row.train_mask).index(True)])

    bare = _ids_given(generator, {"prompt_template": False})
    assert bare == tok("Count up from 3.")["input_ids"]
    chat = _ids_given(generator, {"chat_template": True})  # the chat template wins over the prompt template
    assert chat == tok(tok.apply_chat_template([{"role": "user", "content": "Count up from 3."}], tokenize=False,
                                               add_generation_prompt=True), add_special_tokens=False)["input_ids"]


def test_generate_says_the_format_and_wraps_unless_told_not_to(alpaca_run, capsys) -> None:
    def generate(*extra: str) -> dict:
        code = main(["--home", str(alpaca_run.home), "--json", "generate", str(alpaca_run.run_id), "--prompt",
                     "Count up from 3.", "--max-new-tokens", "2", "--temperature", "0", *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)

    wrapped = generate()
    assert wrapped["format"] == "alpaca" and wrapped["settings"]["prompt_template"] is True
    bare = generate("--no-template")
    assert bare["settings"]["prompt_template"] is False


def test_a_run_of_prompt_completion_rows_is_given_the_prompt_as_it_is(trained: TrainedRun) -> None:
    from spark_trainer.playground.causal_lm import CausalLMGenerator
    from spark_trainer.playground.source import resolve_source
    from spark_trainer.store.store import Store

    with Store.open(trained.home) as store:
        source = resolve_source(store, trained.run_id, "last")
    gen = CausalLMGenerator()
    facts = gen.load(source, "cpu")
    try:
        assert facts["format"] == "prompt-completion" and facts["prompt_template"] is False
        assert gen.encode_prompt("Count up from 3:", [], False) == gen.tokenizer("Count up from 3:")["input_ids"]
    finally:
        gen.close()
