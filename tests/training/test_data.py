"""Reading training records from files as Windows tools write them."""

from __future__ import annotations

from spark_trainer.training.data import read_records


def test_a_jsonl_file_that_starts_with_a_bom_reads_its_first_row(tmp_path) -> None:
    data = tmp_path / "notes.jsonl"
    data.write_bytes(b'\xef\xbb\xbf{"text": "first"}\r\n{"text": "second"}\r\n')
    assert [r.data for r in read_records(data, 0.0)] == [{"text": "first"}, {"text": "second"}]
