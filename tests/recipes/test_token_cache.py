"""The causal-LM recipe's token cache: a second run on an ingested dataset reads its tokenized rows
instead of tokenizing them again, trains on exactly the same rows, and never depends on the cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spark_trainer.recipes import token_cache
from spark_trainer.training.data import read_records
from tests.recipes.helpers import ingested_jsonl
from tests.training.helpers import make_config

ROWS = [{"text": f"line {i}: the quick brown fox jumps {i % 7} times"} for i in range(60)] + \
       [{"prompt": f"Question {i}?", "completion": f" Answer {i}."} for i in range(30)] + \
       [{"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": f"hello {i}"}]}
        for i in range(10)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("m") / "tiny", max_position_embeddings=256)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """An ingested text dataset folder (real ingestion, so its manifest is what runs read)."""
    return ingested_jsonl(tmp_path, ROWS)


def _prepared(model_dir: Path, data: Path, **recipe_config):
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    recipe = CausalLMRecipe(make_config(model_dir, recipe_config={"seq_len": 64, **recipe_config}))
    recipe.prepare(data)
    return recipe


def _rows(recipe) -> list[list[tuple[list[int], list[bool]]]]:
    return [[(list(map(int, e.input_ids)), list(map(bool, e.train_mask))) for e in row] for row in recipe.train_data]


def test_a_second_run_reads_the_cache_and_trains_on_the_same_rows(model_dir: Path, dataset: Path) -> None:
    first = _prepared(model_dir, dataset)
    assert any(n.startswith("tokenized rows cached for the next run") for n in first.log_notes())
    assert len(list((dataset / token_cache.FOLDER).glob("*.npz"))) == 1

    second = _prepared(model_dir, dataset)
    assert any(n.startswith("tokenized rows read from the cache") for n in second.log_notes())
    assert _rows(second) == _rows(first) and second.val_data and _rows(second) != []
    assert [[len(e.input_ids) for e in r] for r in second.val_data] == [[len(e.input_ids) for e in r] for r in first.val_data]
    assert second.truncated == first.truncated and second.packing_efficiency == first.packing_efficiency


def test_batched_tokenizing_gives_what_one_row_at_a_time_gave(model_dir: Path, dataset: Path) -> None:
    recipe = _prepared(model_dir, dataset)
    records = read_records(dataset, 0.1)
    one_by_one = [recipe.encode(r) for r in records]
    batched = recipe.encode_all(records)
    assert [(list(map(int, e.input_ids)), list(map(bool, e.train_mask))) for e in batched] == \
           [(list(e.input_ids), list(e.train_mask)) for e in one_by_one]


def test_another_encoding_or_tokenizer_tokenizes_again(model_dir: Path, dataset: Path, tmp_path: Path) -> None:
    _prepared(model_dir, dataset)
    longer = _prepared(model_dir, dataset, seq_len=128)  # an encoding setting: another key
    assert not any("read from the cache" in n for n in longer.log_notes())

    other = tmp_path / "other-tokenizer"
    shutil.copytree(model_dir, other)
    config = json.loads((other / "tokenizer_config.json").read_text())
    (other / "tokenizer_config.json").write_text(json.dumps({**config, "eos_token": "<pad>"}))
    changed = _prepared(other, dataset)
    assert not any("read from the cache" in n for n in changed.log_notes())
    assert changed.train_data[0][0].input_ids[-1] == changed.tokenizer.convert_tokens_to_ids("<pad>")
    assert len(list((dataset / token_cache.FOLDER).glob("*.npz"))) == token_cache.KEEP  # older ones pruned


def test_a_damaged_cache_is_dropped_and_the_rows_tokenized_again(model_dir: Path, dataset: Path) -> None:
    first = _prepared(model_dir, dataset)
    (cached,) = (dataset / token_cache.FOLDER).glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:200])  # a disk that filled, a copy cut short
    again = _prepared(model_dir, dataset)
    assert any(n.startswith("tokenized rows cached") for n in again.log_notes())
    assert _rows(again) == _rows(first)


def test_no_room_for_the_cache_is_a_note_not_a_failure(model_dir: Path, dataset: Path, monkeypatch) -> None:
    monkeypatch.setattr(token_cache, "MIN_FREE_AFTER", 2**62)
    recipe = _prepared(model_dir, dataset)
    assert any(n.startswith("tokenized rows not cached:") for n in recipe.log_notes())
    assert recipe.train_data and not list((dataset / token_cache.FOLDER).glob("*.npz"))


def test_a_plain_file_is_not_cached(model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:20]), encoding="utf-8")
    recipe = _prepared(model_dir, data)
    assert recipe.train_data and not (tmp_path / token_cache.FOLDER).exists()
    assert not any("cache" in n for n in recipe.log_notes())


def test_bad_rows_still_fail_naming_their_line(model_dir: Path, tmp_path: Path) -> None:
    from spark_trainer.errors import BadInput

    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "fine"}\n{"body": "no text"}\n', encoding="utf-8")
    with pytest.raises(BadInput, match=r"rows.jsonl:2: row has no 'text' field"):
        _prepared(model_dir, data)


def test_an_ingested_dataset_is_tokenized_a_batch_at_a_time_never_read_whole(model_dir: Path, dataset: Path,
                                                                                 monkeypatch) -> None:
    """A 1 GB manifest held as records took 2.5 GB before the first row was tokenized: the records
    reach the tokenizer `BATCH` at a time, read as they come."""
    from spark_trainer.recipes import causal_lm_impl
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    whole = _rows(_prepared(model_dir, dataset, seq_len=48))
    monkeypatch.setattr(causal_lm_impl, "BATCH", 8)
    sizes: list[int] = []
    encode_all = CausalLMRecipe.encode_all

    def counted(self, records):
        sizes.append(len(records))
        return encode_all(self, records)

    monkeypatch.setattr(CausalLMRecipe, "encode_all", counted)
    shutil.rmtree(dataset / token_cache.FOLDER)
    recipe = _prepared(model_dir, dataset, seq_len=48)
    assert max(sizes) <= 8 and sum(sizes) == len(ROWS)
    assert _rows(recipe) == whole  # and the examples are those of one pass over every row


class _CountedCalls:
    """The tokenizer, counting the calls that tokenize."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.calls = tokenizer, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.tokenizer(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.tokenizer, name)


def test_chat_rows_are_tokenized_in_one_call_a_batch(model_dir: Path, dataset: Path) -> None:
    """One tokenizer call per conversation made chat rows three times slower to start than others."""
    recipe = _prepared(model_dir, dataset)
    chats = [r for r in read_records(dataset, 0.1) if "messages" in r.data]
    one_by_one = [recipe.encode(r) for r in chats]
    recipe.tokenizer = counted = _CountedCalls(recipe.tokenizer)
    batched = recipe.encode_all(chats)
    assert counted.calls == 1 and len(chats) == 10
    assert [(list(map(int, e.input_ids)), list(map(bool, e.train_mask))) for e in batched] == \
           [(list(e.input_ids), list(e.train_mask)) for e in one_by_one]
    assert any(not m for e in batched for m in e.train_mask)  # the user's turns are not targets
