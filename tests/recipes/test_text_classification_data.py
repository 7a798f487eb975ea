"""A text-classification run's start: texts tokenized a batch at a time give exactly what one row at
a time gave, and an ingested dataset's rows are kept in its token cache, so a resume or a re-run
reads them back (the same rows, row for row) instead of tokenizing again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.recipes import text_classification_data, token_cache
from spark_trainer.training.data import read_records
from tests.recipes.helpers import ingested_jsonl, ticket_rows

# Labels in several spellings (1.0 and 1 are one class, "bug " is "bug"), texts of every length:
# with max_length 12 about half are cut.
ROWS: list[dict[str, Any]] = [
    {**row, "body": row["text"].upper() + " extra words here", "topic": [1, 2.0, "3 "][i % 3],
     "label": row["label"] + (" " if i % 5 == 0 else ""),
     "text": row["text"] + " more" * (i % 9)}
    for i, row in enumerate(ticket_rows(90))
]


def _config(model: Path, **recipe_config: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate({
        "name": "t", "recipe": "text-classification", "base_model": str(model), "dataset": "d", "gpus": "cpu",
        "train": {"max_steps": 6, "learning_rate": 3e-3, "batch_size": 8},
        "eval": {"every_steps": None, "val_fraction": 0.2}, "checkpoint": {"every_steps": None, "keep": 1},
        "recipe_config": {"method": "full", "max_length": 12, "class_weights": "balanced", **recipe_config}})


def _ingested(folder: Path, rows: list[dict[str, Any]]) -> Path:
    return ingested_jsonl(folder, rows, "tickets.jsonl")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return _ingested(tmp_path, ROWS)


def _prepared(model: Path, data: Path, **recipe_config: Any):
    from spark_trainer.recipes.text_classification_impl import TextClassificationRecipe

    recipe = TextClassificationRecipe(_config(model, **recipe_config))
    recipe.prepare(data)
    return recipe


def _rows(data) -> list[tuple[list[int], int]]:
    return [(list(map(int, e.input_ids)), e.label) for e in data]


def _said(recipe, start: str) -> bool:
    return any(n.startswith(start) for n in recipe.log_notes())


@pytest.mark.parametrize("columns", [{}, {"text_column": "body", "label_column": "topic"},
                                     {"label_names": "as-written", "max_length": 256}])
def test_batched_tokenizing_gives_what_one_row_at_a_time_gave(tiny_text_classifier, dataset, monkeypatch, columns):
    monkeypatch.setattr(text_classification_data, "BATCH", 7)  # many batches, splits mixed in each
    recipe = _prepared(tiny_text_classifier, dataset, **columns)
    records = read_records(dataset, 0.2)
    one_by_one = [recipe.encode(r) for r in records]  # one tokenizer call per row, as runs did before
    train = [(list(e.input_ids), e.label) for e, r in zip(one_by_one, records, strict=True) if r.split == "train"]
    val = [(list(e.input_ids), e.label) for e, r in zip(one_by_one, records, strict=True) if r.split == "val"]
    assert _rows(recipe.train_data) == train and _rows(recipe.val_data) == val and val

    max_length = recipe.rc.max_length
    whole = [list(recipe.tokenizer(r.data[recipe.rc.text_column])["input_ids"]) for r in records]
    assert recipe.truncated == sum(len(ids) > max_length for ids in whole)
    if recipe.rc.max_length == 12:  # cut as the recipe always cut: the first 11 tokens and the closing [SEP]
        longest = max(whole, key=len)
        assert longest[:11] + longest[-1:] in [ids for ids, _ in train + val] and recipe.truncated > 20
    else:
        assert recipe.truncated == 0
    raw = [r.data[recipe.rc.label_column] for r in records]
    assert [recipe.labels.names[label] for _, label in train + val] == \
           [recipe.labels.names[recipe.labels.id_of(x)] for r, x in zip(records, raw, strict=True)
            if r.split == "train"] + [recipe.labels.names[recipe.labels.id_of(x)]
                                      for r, x in zip(records, raw, strict=True) if r.split == "val"]
    expected = {"label": {"normalized": ["billing", "bug", "praise"],
                          "as-written": ["billing", "billing ", "bug", "bug ", "praise", "praise "]},
                "topic": {"normalized": ["1", "2", "3"]}}
    assert recipe.labels.names == expected[recipe.rc.label_column][recipe.rc.label_names]


def test_labels_spelt_with_a_composed_or_a_combining_accent_train_as_one_class(tiny_text_classifier, tmp_path):
    rows = [{**row, "label": ["caf\u00e9", "cafe\u0301", "tea"][i % 3]} for i, row in enumerate(ticket_rows(30))]
    data = _ingested(tmp_path, rows)
    recipe = _prepared(tiny_text_classifier, data)
    assert recipe.labels.names == ["caf\u00e9", "tea"]
    assert sorted({label for _, label in _rows(recipe.train_data) + _rows(recipe.val_data)}) == [0, 1]
    frozen = _prepared(tiny_text_classifier, data, label_names="as-written")  # a run frozen before: as it was
    assert len(frozen.labels.names) == 3 and _said(frozen, "tokenized 30 rows in ")  # not the other's cache


def test_a_second_run_reads_the_cache_and_has_the_same_rows(tiny_text_classifier, dataset):
    first = _prepared(tiny_text_classifier, dataset)
    assert _said(first, "tokenized 90 rows in ") and _said(first, "tokenized rows cached for the next run")
    assert len(list((dataset / token_cache.FOLDER).glob("*.npz"))) == 1

    second = _prepared(tiny_text_classifier, dataset)
    assert _said(second, "tokenized rows read from the cache in ") and not _said(second, "tokenized 90 rows")
    assert _rows(second.train_data) == _rows(first.train_data) and first.train_data
    assert _rows(second.val_data) == _rows(first.val_data) and first.val_data
    assert second.labels.names == first.labels.names and second.truncated == first.truncated > 0
    assert second.weights == first.weights is not None
    assert [(e.text, list(e.input_ids), e.label) for e in second.sample_items] == \
           [(e.text, list(e.input_ids), e.label) for e in first.sample_items] and len(first.sample_items) == 6
    assert second.labels.id_of("bug ") == first.labels.id_of("bug") == 1  # the playground's, eval's lookups


def test_a_resume_reads_the_cache_and_trains_exactly_as_an_uninterrupted_run(tiny_text_classifier, dataset, tmp_path):
    from spark_trainer.training.checkpoints import latest_checkpoint
    from tests.recipes.test_text_classification import train

    cfg = _config(tiny_text_classifier)
    _, straight = train(cfg, dataset, tmp_path / "straight")  # tokenizes, writes the cache
    assert any(line.startswith("tokenized 90 rows") for line in straight.logs)
    stopped, first = train(cfg, dataset, tmp_path / "resumed", stop_at=3)
    resumed, second = train(cfg, dataset, tmp_path / "resumed", resume_from=latest_checkpoint(tmp_path / "resumed"))
    assert stopped.step == 3 and resumed.step == 6
    for run in (first, second):
        assert any(line.startswith("tokenized rows read from the cache") for line in run.logs)
    assert {**first.series("loss"), **second.series("loss")} == straight.series("loss")  # exact floats


@pytest.mark.parametrize("change", [{"max_length": 16}, {"text_column": "body"}, {"label_column": "topic"},
                                    {"label_names": "as-written"}])
def test_another_encoding_setting_tokenizes_again(tiny_text_classifier, dataset, change):
    _prepared(tiny_text_classifier, dataset)
    changed = _prepared(tiny_text_classifier, dataset, **change)
    assert _said(changed, "tokenized 90 rows") and not _said(changed, "tokenized rows read from the cache")
    again = _prepared(tiny_text_classifier, dataset, **change)  # and that one is cached in turn
    assert _said(again, "tokenized rows read from the cache") and _rows(again.train_data) == _rows(changed.train_data)


def test_another_tokenizer_or_manifest_tokenizes_again(tiny_text_classifier, dataset, tmp_path):
    _prepared(tiny_text_classifier, dataset)
    other = tmp_path / "other-tokenizer"
    shutil.copytree(tiny_text_classifier, other)
    tokenizer = json.loads((other / "tokenizer.json").read_text())
    tokenizer["post_processor"]["single"] = tokenizer["post_processor"]["single"][:-1]  # no closing [SEP]
    (other / "tokenizer.json").write_text(json.dumps(tokenizer))
    changed = _prepared(other, dataset)
    assert not _said(changed, "tokenized rows read from the cache")
    sep = changed.tokenizer.sep_token_id
    assert changed.train_data[0].input_ids[-1] != sep and all(sep not in e.input_ids for e in changed.train_data)

    manifest = dataset / "manifest.jsonl"
    rows = manifest.read_text().splitlines()
    manifest.write_text("\n".join(rows[:-10]) + "\n")  # the dataset changed under the same id
    fewer = _prepared(tiny_text_classifier, dataset)
    assert _said(fewer, "tokenized 80 rows") and len(fewer.train_data) + len(fewer.val_data) == 80
    assert len(list((dataset / token_cache.FOLDER).glob("*.npz"))) == token_cache.KEEP  # older ones pruned


def test_a_damaged_cache_is_dropped_and_the_rows_tokenized_again(tiny_text_classifier, dataset):
    first = _prepared(tiny_text_classifier, dataset)
    (cached,) = (dataset / token_cache.FOLDER).glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:300])  # a disk that filled, a copy cut short
    again = _prepared(tiny_text_classifier, dataset)
    assert _said(again, "tokenized 90 rows") and _said(again, "tokenized rows cached")
    assert _rows(again.train_data) == _rows(first.train_data)

    import numpy as np

    with np.load(cached) as data:  # a whole file whose arrays do not fit together: a class id past the classes
        arrays = {k: data[k] for k in data.files}
    arrays["labels"] = arrays["labels"] + 5
    with open(cached, "wb") as fh:
        np.savez(fh, **arrays)
    third = _prepared(tiny_text_classifier, dataset)
    assert _said(third, "tokenized 90 rows") and _rows(third.train_data) == _rows(first.train_data)


def test_only_rank_0_writes_and_no_room_is_a_note(tiny_text_classifier, dataset, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    other_rank = _prepared(tiny_text_classifier, dataset)
    assert other_rank.train_data and not (dataset / token_cache.FOLDER).exists()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(token_cache, "MIN_FREE_AFTER", 2**62)
    full_disk = _prepared(tiny_text_classifier, dataset)
    assert _said(full_disk, "tokenized rows not cached:") and not list((dataset / token_cache.FOLDER).glob("*.npz"))


def test_a_plain_file_is_not_cached(tiny_text_classifier, tmp_path):
    data = tmp_path / "tickets.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    recipe = _prepared(tiny_text_classifier, data)
    assert recipe.train_data and not (tmp_path / token_cache.FOLDER).exists()
    assert _said(recipe, "tokenized 90 rows") and not any("cache" in n for n in recipe.log_notes())


def test_causal_lm_and_text_classification_caches_of_one_dataset_stay_apart(tiny_text_classifier, dataset,
                                                                           tmp_path):
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from tests.recipes.test_token_cache import _prepared as causal_prepared

    text = _prepared(tiny_text_classifier, dataset)
    causal = causal_prepared(create_tiny_causal_lm(tmp_path / "llama", max_position_embeddings=256), dataset)
    assert not any("read from the cache" in n for n in causal.log_notes()) and not _said(text, "tokenized rows read")
    assert len(list((dataset / token_cache.FOLDER).glob("*.npz"))) == 2


def test_a_sample_text_is_cut_as_training_cut_it(tiny_text_classifier, dataset):
    """recipe_config.sample_texts (and the playground, through `encode_text`) gave the model a long text
    cut without its closing [SEP]: not the input the model trained on for that very text."""
    import torch

    recipe = _prepared(tiny_text_classifier, dataset)
    model = recipe.build_model(torch.device("cpu"), "fp32")
    shown = recipe.sample_items[0]
    assert len(recipe.tokenizer(shown.text)["input_ids"]) > recipe.rc.max_length  # a long text, cut in training
    fed: list[list[int]] = []
    collate = recipe.collate

    def seen(items):  # the real collate; what the model was given is kept
        batch = collate(items)
        fed.extend(row[mask.bool()].tolist() for row, mask in zip(batch["input_ids"], batch["attention_mask"],
                                                                  strict=True))
        return batch

    recipe.collate = seen
    recipe.rc = recipe.rc.model_copy(update={"sample_texts": [shown.text]})
    recipe.generate_samples(model)
    assert fed == [list(map(int, shown.input_ids))]
    assert fed[0][-1] == recipe.tokenizer.sep_token_id


def test_a_text_longer_than_the_model_takes_is_refused_before_training(tiny_text_classifier, tmp_path):
    """max_length 1024 on a 512-position BERT: a 600-token text stopped the run with a tensor size error
    at the first batch holding it; now the run's start says what to set."""
    from spark_trainer.errors import ConfigError
    from tests.recipes.test_text_classification import train

    rows = [*ROWS, {"text": "refund " * 600, "label": "billing"}]
    long_data = _ingested(tmp_path / "long", rows)
    cfg = _config(tiny_text_classifier, max_length=1024)
    with pytest.raises(ConfigError, match=r"^recipe_config.max_length 1024 is more than the 512 tokens tiny-bert "
                                          r"takes, and 1 text is longer than that: set recipe_config.max_length "
                                          r"to 512 or less$"):
        train(cfg, long_data, tmp_path / "run")
    outcome, _ = train(cfg, _ingested(tmp_path / "short", ROWS), tmp_path / "run2")  # short texts: a big max_length is fine
    assert outcome.step == 6


def test_an_ingested_dataset_is_tokenized_a_batch_at_a_time_never_read_whole(tiny_text_classifier, dataset,
                                                                                 monkeypatch):
    """A run's first tokenization held every record of the manifest (500k rows: 600 MB before the
    first was tokenized): the records reach the tokenizer `BATCH` at a time, read as they come, and
    the rows, labels, samples and cut count are those of the whole dataset read at once."""
    from spark_trainer.recipes import text_classification_impl

    whole = _prepared(tiny_text_classifier, dataset)
    shutil.rmtree(dataset / token_cache.FOLDER)
    monkeypatch.setattr(text_classification_data, "BATCH", 8)
    monkeypatch.setattr(text_classification_impl, "read_records", lambda *_a: pytest.fail("read the dataset whole"))
    sizes: list[int] = []
    tokenizer_class = type(whole.tokenizer)
    call = tokenizer_class.__call__

    def counted(self, text, *args, **kwargs):
        if isinstance(text, list):
            sizes.append(len(text))
        return call(self, text, *args, **kwargs)

    monkeypatch.setattr(tokenizer_class, "__call__", counted)
    streamed = _prepared(tiny_text_classifier, dataset)
    assert max(sizes) <= 8 and sum(sizes) == len(ROWS)
    assert _rows(streamed.train_data) == _rows(whole.train_data) and _rows(streamed.val_data) == _rows(whole.val_data)
    assert streamed.labels.names == whole.labels.names and streamed.truncated == whole.truncated > 0
    assert [(e.text, e.label) for e in streamed.sample_items] == [(e.text, e.label) for e in whole.sample_items]
    assert _said(streamed, "tokenized 90 rows in ")


def test_eval_max_rows_evaluates_on_that_many_rows_spread_over_the_split(tiny_text_classifier, dataset):
    """Off by default (the per-class scores and confusion matrix cover the whole split); set, every
    evaluation runs on the same rows spread over the split, and training keeps every row."""
    whole = _prepared(tiny_text_classifier, dataset)
    capped = _prepared(tiny_text_classifier, dataset, eval_max_rows=4)
    val = _rows(whole.val_data)
    assert len(val) > 8 and not _said(whole, "evaluating on")
    assert _rows(capped.val_data) == [val[i * len(val) // 4] for i in range(4)]
    assert _rows(capped.train_data) == _rows(whole.train_data)
    assert _said(capped, f"evaluating on 4 of the {len(val)} validation examples, the same ones every time")
    assert [e.text for e in capped.sample_items] == [e.text for e in whole.sample_items]
