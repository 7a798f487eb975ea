"""Reading training records from files as Windows tools write them."""

from __future__ import annotations

from spark_trainer.training.data import read_records


def test_a_jsonl_file_that_starts_with_a_bom_reads_its_first_row(tmp_path) -> None:
    data = tmp_path / "notes.jsonl"
    data.write_bytes(b'\xef\xbb\xbf{"text": "first"}\r\n{"text": "second"}\r\n')
    assert [r.data for r in read_records(data, 0.0)] == [{"text": "first"}, {"text": "second"}]


NAMES = ["cat.png", "chat-é.png", "犬.png", "dog.png", "zürich.png", "a b.png", "x.png", "ü.png"]


def test_the_hash_splits_of_existing_files_do_not_move(tmp_path) -> None:
    """A run's train/val split is a hash of each row: the JSONL reader and the CSV reader of image rows
    had a copy each of it, which hash non-ASCII text differently. One function now; these splits,
    recorded before it, must not change (a resumed or repeated run would train on other rows)."""
    import json

    from spark_trainer.recipes.image_rows import read_text_rows

    (tmp_path / "pairs.csv").write_text("path,caption\n" + "".join(f"{n},caption {i} café\n" for i, n in enumerate(NAMES)),
                                        encoding="utf-8")
    assert [r.split for r in read_text_rows(tmp_path / "pairs.csv", 0.5)[0]] == ["val"] * 7 + ["train"]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": f"{n} №{i}", "label": i % 2}, ensure_ascii=False)
                                                 + "\n" for i, n in enumerate(NAMES)), encoding="utf-8")
    jsonl = ["train", "train", "val", "train", "val", "val", "val", "val"]
    assert [r.split for r in read_records(tmp_path / "rows.jsonl", 0.5)] == jsonl
    assert [r.split for r in read_text_rows(tmp_path / "rows.jsonl", 0.5)[0]] == jsonl
    (tmp_path / "two.jsonl").write_text('{"text": "héllo"}\n{"text": "world"}\n', encoding="utf-8")
    assert [r.split for r in read_records(tmp_path / "two.jsonl", 0.3)] == ["train", "val"]  # one held out


def test_in_batches_reads_records_only_as_each_batch_is_asked_for():
    from spark_trainer.training.data import in_batches

    read: list[int] = []

    def records():
        for i in range(10):
            read.append(i)
            yield i

    batches = in_batches(records(), 4)
    assert next(batches) == [0, 1, 2, 3] and read == [0, 1, 2, 3]
    assert list(batches) == [[4, 5, 6, 7], [8, 9]]


def test_evaluated_rows_are_spread_over_the_split_and_all_when_not_fewer():
    from spark_trainer.training.data import evaluated_rows

    rows = list(range(100, 110))
    assert evaluated_rows(rows, 4) == ([100, 102, 105, 107], "evaluating on 4 of the 10 validation examples, the "
                                       "same ones every time (recipe_config.eval_max_rows)")
    assert evaluated_rows(rows, 10) == (rows, None) and evaluated_rows(rows, None) == (rows, None)
