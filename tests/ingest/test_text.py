"""Text ingestion: JSONL/JSON/CSV/TSV/TXT/Parquet, quality gates with line numbers, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_trainer.errors import BadInput
from spark_trainer.ingest import IngestOptions, detect_kind, ingest_paths, read_manifest, read_report
from tests.ingest.conftest import leftovers


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_jsonl_with_broken_line_empty_row_and_duplicate(store, project, tmp_path) -> None:
    data = _jsonl(tmp_path / "data.jsonl", [
        '{"text": "the first example"}',          # 1
        '{"text": "broken',                         # 2 invalid JSON
        '',                                         # 3 empty line
        '{"text": ""}',                             # 4 empty text
        '{"text": "the first example"}',            # 5 duplicate of 1
        '{"prompt": "2+2?", "completion": "4"}',    # 6
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',  # 7
        '[1, 2]',                                   # 8 not an object
    ])
    result = ingest_paths(store, [data], project=project)
    report = result.report
    rejected = {(r.source, r.line): r.reason for r in report.rejected}
    assert set(rejected) == {("data.jsonl", 2), ("data.jsonl", 3), ("data.jsonl", 4), ("data.jsonl", 8)}
    assert rejected[("data.jsonl", 2)].startswith("invalid JSON")
    assert rejected[("data.jsonl", 3)] == "empty line"
    assert rejected[("data.jsonl", 4)] == "empty text"
    assert [(d.source, d.line, d.duplicate_of) for d in report.duplicates] == [("data.jsonl", 5, "data.jsonl:1")]
    assert (report.accepted, report.num_rejected, report.num_duplicates) == (3, 4, 1)
    assert report.accepted + report.num_rejected + report.num_duplicates == 8

    d = result.dataset
    assert (d.kind, d.num_items, d.num_rejected, d.num_duplicates) == ("text", 3, 4, 1)
    assert d.num_train + d.num_val == 3 and d.num_val >= 1
    folder = Path(d.path)
    assert folder == store.home.dataset_dir(d.id)
    rows = read_manifest(folder)
    assert [r["source"] for r in rows] == ["data.jsonl:1", "data.jsonl:6", "data.jsonl:7"]
    assert rows[1]["record"] == {"prompt": "2+2?", "completion": "4"}
    assert all(r["split"] in ("train", "val") and len(r["sha256"]) == 64 for r in rows)
    assert read_manifest(folder, offset=1, limit=1) == [rows[1]]
    saved = read_report(folder)
    assert saved["counts"] == {"accepted": 3, "train": d.num_train, "val": d.num_val, "rejected": 4,
                               "duplicates": 1, "seen": 8}
    assert {(r["source"], r["line"]) for r in saved["rejected"]} == set(rejected)
    assert saved["version"] == d.version
    card = (folder / "README.md").read_text()
    assert d.version in card and "Text length" in card and "exact duplicates removed: 1" in card


def test_non_utf8_names_file_and_line(store, project, tmp_path) -> None:
    data = tmp_path / "mixed.jsonl"
    data.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n{"text": "fine"}\n')
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(b"text\nalpha\nbeta \xff\n")
    result = ingest_paths(store, [data, bad_csv], project=project)
    reasons = {(r.source, r.line): r.reason for r in result.report.rejected}
    assert "not valid UTF-8" in reasons[("mixed.jsonl", 2)]
    assert reasons[("mixed.jsonl", 2)].endswith("; save the file as UTF-8 (in Excel: CSV UTF-8; in an editor: "
                                                "encoding UTF-8)")  # what to do, not only what is wrong
    assert ("bad.csv", 3) in reasons and "not valid UTF-8 at line 3" in reasons[("bad.csv", 3)]
    assert result.dataset.num_items == 2


def test_a_latin1_text_file_says_how_to_save_it(store, project, tmp_path) -> None:
    data = tmp_path / "notes.txt"
    data.write_bytes("first line\ncaf\u00e9 cr\u00e8me\n".encode("latin-1"))
    result = ingest_paths(store, [data], project=project)
    (rejected,) = result.report.rejected
    assert rejected.line == 2 and "not valid UTF-8" in rejected.reason and "save the file as UTF-8" in rejected.reason


def test_csv_tsv_json_txt_parquet_and_overlong_text(store, project, tmp_path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.csv").write_text('text,label\n"hello, world",pos\n"multi\nline",neg\nshort\n', encoding="utf-8")
    (folder / "b.tsv").write_text("text\tlabel\ntab one\tx\n", encoding="utf-8")
    (folder / "c.json").write_text(json.dumps([{"text": "from json"}, "a bare string", 5]), encoding="utf-8")
    (folder / "d.txt").write_text("line one\n\nline two\n" + "x" * 50 + "\n", encoding="utf-8")
    pq.write_table(pa.table({"text": ["pq one", "pq two"], "score": [1, 2]}), folder / "e.parquet")
    result = ingest_paths(store, [folder], project=project, options=IngestOptions(max_text_chars=40))
    sources = [r["source"] for r in read_manifest(Path(result.dataset.path))]
    assert sources == ["corpus/a.csv:2", "corpus/a.csv:3", "corpus/b.tsv:2", "corpus/c.json:1", "corpus/c.json:2",
                       "corpus/d.txt:1", "corpus/d.txt:3", "corpus/e.parquet:1", "corpus/e.parquet:2"]
    rows = {r["source"]: r["record"] for r in read_manifest(Path(result.dataset.path))}
    assert rows["corpus/a.csv:3"] == {"text": "multi\nline", "label": "neg"}
    assert rows["corpus/e.parquet:2"] == {"text": "pq two", "score": 2}
    assert rows["corpus/c.json:2"] == {"text": "a bare string"}
    reasons = {(r.source, r.line): r.reason for r in result.report.rejected}
    assert reasons == {
        ("corpus/a.csv", 5): "row has 1 fields; the header has 2",
        ("corpus/c.json", 3): "expected a JSON object or string, got int",
        ("corpus/d.txt", 4): "text too long: 50 characters; the limit is 40",
    }


def test_txt_file_mode_makes_one_record_per_file(store, project, tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "one.txt").write_text("para one\n\npara two\n", encoding="utf-8")
    (docs / "two.txt").write_text("another doc\n", encoding="utf-8")
    result = ingest_paths(store, [docs], project=project, options=IngestOptions(txt_mode="file"))
    records = [r["record"]["text"] for r in read_manifest(Path(result.dataset.path))]
    assert records == ["para one\n\npara two\n", "another doc\n"]


def test_same_folder_twice_same_version_and_one_change_changes_it(store, project, tmp_path) -> None:
    folder = tmp_path / "set"
    _jsonl(folder / "a.jsonl", [json.dumps({"text": f"example {i}"}) for i in range(30)])
    _jsonl(folder / "b.jsonl", [json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) for i in range(10)])
    first = ingest_paths(store, [folder], project=project)
    second = ingest_paths(store, [folder], project=project)
    assert second.dataset.name == "set-2" and second.dataset.id != first.dataset.id
    assert first.dataset.version == second.dataset.version
    assert read_manifest(Path(first.dataset.path)) == read_manifest(Path(second.dataset.path))
    _jsonl(folder / "b.jsonl", [json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) for i in range(9)]
           + [json.dumps({"prompt": "changed", "completion": "x"})])
    third = ingest_paths(store, [folder], project=project)
    assert third.dataset.version != first.dataset.version
    # the split is by content hash: unchanged records keep their split
    splits = {r["sha256"]: r["split"] for r in read_manifest(Path(first.dataset.path))}
    for row in read_manifest(Path(third.dataset.path)):
        if row["sha256"] in splits:
            assert row["split"] == splits[row["sha256"]]


def test_val_fraction_controls_split_size(store, project, tmp_path) -> None:
    data = _jsonl(tmp_path / "many.jsonl", [json.dumps({"text": f"row {i}"}) for i in range(400)])
    result = ingest_paths(store, [data], project=project, options=IngestOptions(val_fraction=0.25))
    assert 60 <= result.dataset.num_val <= 140
    none = ingest_paths(store, [data], project=project, options=IngestOptions(val_fraction=0.0))
    assert none.dataset.num_val == 0 and none.dataset.num_train == 400
    pair = _jsonl(tmp_path / "pair.jsonl", ['{"text": "one"}', '{"text": "two"}'])
    for fraction in (0.01, 0.99):  # two rows: each split gets one, whatever the hashes say
        split = ingest_paths(store, [pair], project=project, options=IngestOptions(val_fraction=fraction))
        assert (split.dataset.num_train, split.dataset.num_val) == (1, 1)


def test_bad_input_writes_nothing(store, project, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    unsupported = tmp_path / "odd"
    unsupported.mkdir()
    (unsupported / "notes.xyz").write_text("?")
    cases = [([empty], "folder is empty"), ([tmp_path / "missing.jsonl"], "no such file or folder"),
             ([unsupported], "no supported files")]
    for paths, message in cases:
        with pytest.raises(BadInput, match=message):
            ingest_paths(store, paths, project=project)
    with pytest.raises(BadInput, match="no project"):
        ingest_paths(store, [_jsonl(tmp_path / "x.jsonl", ['{"text": "a"}'])], project="nope")
    all_bad = _jsonl(tmp_path / "bad.jsonl", ["{", "", "[1]"])
    with pytest.raises(BadInput, match="all 3 items were rejected"):
        ingest_paths(store, [all_bad], project=project)
    assert leftovers(store) == ([], [])


def test_detect_kind(tmp_path) -> None:
    texts = tmp_path / "t"
    _jsonl(texts / "a.jsonl", ['{"text": "a"}'])
    (texts / "b.csv").write_text("text\nb\n")
    assert detect_kind([texts]) == "text"
    images = tmp_path / "i"
    images.mkdir()
    from tests.ingest.media import write_image

    for i in range(2):
        write_image(images / f"{i}.png", seed=i)
        (images / f"{i}.txt").write_text("a caption")  # sidecars do not make it a text dataset
    assert detect_kind([images]) == "image"
    tie = tmp_path / "tie"
    write_image(tie / "a.png")
    (tie / "b.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(BadInput, match="--kind"):
        detect_kind([tie])


def test_empty_lines_at_the_end_of_a_jsonl_file_are_not_rows(store, project, tmp_path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_bytes(b'\xef\xbb\xbf{"text": "one"}\r\n\r\n{"text": "two"}\r\n\r\n\n')
    result = ingest_paths(store, [data], project=project)
    assert [(r.line, r.reason) for r in result.report.rejected] == [(2, "empty line")]
    assert [r["record"] for r in read_manifest(Path(result.dataset.path))] == [{"text": "one"}, {"text": "two"}]


def test_a_semicolon_csv_from_european_excel_reads_its_columns(store, project, tmp_path) -> None:
    data = tmp_path / "reviews.csv"
    data.write_bytes(b"text;label;price\r\n\"great, really\";pos;3,50\r\nbroke in a week;neg;12,00\r\n")
    result = ingest_paths(store, [data], project=project)
    assert [r["record"] for r in read_manifest(Path(result.dataset.path))] == [
        {"text": "great, really", "label": "pos", "price": "3,50"},
        {"text": "broke in a week", "label": "neg", "price": "12,00"}]


def test_a_csv_saved_by_excel_in_windows_1252_is_refused_saying_how_to_fix_it(store, project, tmp_path) -> None:
    data = tmp_path / "reviews.csv"
    data.write_bytes("text,label\ncafé crème,pos\n".encode("cp1252"))
    with pytest.raises(BadInput, match=r"^nothing to ingest: the only item was rejected \(reviews\.csv:2: not valid "
                                       r"UTF-8 at line 2 .*; the whole file was skipped \(save it as UTF-8; in "
                                       r"Excel: CSV UTF-8\)\)$"):
        ingest_paths(store, [data], project=project)
    assert leftovers(store) == ([], [])


def test_windows_line_breaks_inside_texts_become_newlines(store, project, tmp_path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pairs.csv").write_bytes(b'prompt,completion\r\nq1,"first line\r\nsecond line"\r\n')
    (tmp_path / "data" / "essay.txt").write_bytes(b"\xef\xbb\xbfOne.\r\nTwo.\r\n")
    result = ingest_paths(store, [tmp_path / "data"], project=project, options=IngestOptions(txt_mode="file"))
    records = sorted((r["record"] for r in read_manifest(Path(result.dataset.path))), key=str)
    assert records == [{"prompt": "q1", "completion": "first line\nsecond line"}, {"text": "One.\nTwo.\n"}]


def test_a_hand_written_csv_header_with_spaces_names_its_columns(store, project, tmp_path) -> None:
    data = tmp_path / "labels.csv"
    data.write_text("text, label\nrefund please, billing\n")
    result = ingest_paths(store, [data], project=project)
    assert [r["record"] for r in read_manifest(Path(result.dataset.path))] == [
        {"text": "refund please", "label": " billing"}]  # the label's space goes when a recipe reads it


def test_an_excel_sep_line_before_the_header_is_not_the_header(store, project, tmp_path) -> None:
    data = tmp_path / "export.csv"
    data.write_bytes(b"sep=;\r\ntext;label\r\nrefund, please;billing\r\nbroken;\r\nok;bug;extra\r\n")
    result = ingest_paths(store, [data], project=project)
    assert [r["record"] for r in read_manifest(Path(result.dataset.path))] == [
        {"text": "refund, please", "label": "billing"}, {"text": "broken", "label": ""}]
    assert [(r.line, r.reason) for r in result.report.rejected] == [(5, "row has 3 fields; the header has 2")]


def test_jsonl_files_joined_with_their_byte_order_marks_read_every_line(store, project, tmp_path) -> None:
    part = '\ufeff{"text": "part %d"}\r\n'
    (tmp_path / "joined.jsonl").write_text("".join(part % i for i in range(3)), encoding="utf-8")
    result = ingest_paths(store, [tmp_path / "joined.jsonl"], project=project)
    assert result.report.rejected == [] and result.dataset.num_items == 3


def test_txt_files_joined_with_their_byte_order_marks_keep_no_mark(store, project, tmp_path) -> None:
    (tmp_path / "joined.txt").write_text("\ufeffone\r\n\ufefftwo\r\n", encoding="utf-8")
    result = ingest_paths(store, [tmp_path / "joined.txt"], project=project)
    assert [r["record"]["text"] for r in read_manifest(Path(result.dataset.path))] == ["one", "two"]


def _peak_reading(path: Path, options: IngestOptions | None = None) -> int:
    """Peak memory (tracemalloc) of reading every row of `path`, keeping none."""
    import tracemalloc

    from spark_trainer.ingest.detect import InputFile
    from spark_trainer.ingest.text import rows_of

    tracemalloc.start()
    try:
        for _ in rows_of(InputFile(path, path.name, (path.name,)), options or IngestOptions()):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_csv_is_read_a_row_at_a_time(tmp_path) -> None:
    """A 120 MB CSV took 1.18 GB to ingest: the reader held its bytes, its text and a copy of the text
    in a StringIO (four bytes a character) before the first row."""
    data = tmp_path / "rows.csv"
    data.write_text("text,label\n" + "".join(f"row {i} {'word ' * 60},pos\n" for i in range(20_000)), encoding="utf-8")
    size = data.stat().st_size
    peak = _peak_reading(data)
    assert peak < size / 4, f"reading took {peak / size:.1f}x the file's size"


def test_a_csv_with_a_bad_byte_deep_inside_is_still_skipped_whole_naming_its_line(store, project, tmp_path) -> None:
    # Read as a stream, the file is checked first: no row before the bad byte may be ingested from
    # a file that is refused, and a character cut by the reader's chunks is not an error.
    data = tmp_path / "big.csv"
    body = "text,label\n" + "".join(f"row {i} caf\u00e9 cr\u00e8me {'x' * 50},pos\n" for i in range(40_000))
    raw = body.encode("utf-8") + "sans-serif,neg\n".encode("cp1252") + "na\u00efve,pos\n".encode("cp1252")
    data.write_bytes(raw)
    (tmp_path / "ok.jsonl").write_text('{"text": "kept"}\n', encoding="utf-8")
    result = ingest_paths(store, [data, tmp_path / "ok.jsonl"], project=project)
    assert result.dataset.num_items == 1
    [rejected] = result.report.rejected
    assert (rejected.source, rejected.line) == ("big.csv", 40_003)
    assert rejected.reason.startswith(f"not valid UTF-8 at line 40003 (byte {len(raw) - 8}: invalid continuation byte)")


def test_a_large_txt_file_is_read_a_line_at_a_time(tmp_path) -> None:
    """A 97 MB .txt took 310 MB to ingest: it was read whole and split into a list of its lines."""
    data = tmp_path / "corpus.txt"
    data.write_text("".join(f"line {i} {'word ' * 60}\n" for i in range(20_000)), encoding="utf-8")
    size = data.stat().st_size
    peak = _peak_reading(data)
    assert peak < size / 4, f"reading took {peak / size:.1f}x the file's size"


def test_txt_lines_end_at_any_line_break_and_keep_their_numbers(tmp_path) -> None:
    from spark_trainer.ingest.detect import InputFile
    from spark_trainer.ingest.text import rows_of

    data = tmp_path / "mixed.txt"
    data.write_bytes(b"\xef\xbb\xbfone\r\ntwo\rthree\n\n  \nfour\r\r\nfive\xff\nsix\r")
    rows = list(rows_of(InputFile(data, data.name, (data.name,)), IngestOptions()))
    assert [(n, r["text"] if r else p.split(" (")[0]) for n, r, p in rows] == [
        (1, "one"), (2, "two"), (3, "three"), (6, "four"), (8, "not valid UTF-8"), (9, "six")]


def test_a_large_json_array_is_read_an_element_at_a_time(tmp_path) -> None:
    """A 150 MB JSON array (an Alpaca-style file) took 538 MB to ingest: it was loaded whole."""
    data = tmp_path / "alpaca.json"
    data.write_text(json.dumps([{"instruction": f"row {i}", "output": "word " * 60} for i in range(20_000)], indent=1),
                    encoding="utf-8")
    size = data.stat().st_size
    peak = _peak_reading(data)
    assert peak < size / 4, f"reading took {peak / size:.1f}x the file's size"


def test_a_json_array_broken_near_its_end_is_refused_whole_naming_the_line(store, project, tmp_path) -> None:
    # Read as a stream, the array is checked whole first: none of its records may be kept.
    data = tmp_path / "rows.json"
    rows = ",\n".join(json.dumps({"text": f"row {i}"}) for i in range(3000))
    data.write_text("[\n" + rows + '\n{"text": "missing comma"}\n]\n', encoding="utf-8")
    (tmp_path / "ok.jsonl").write_text('{"text": "kept"}\n', encoding="utf-8")
    result = ingest_paths(store, [data, tmp_path / "ok.jsonl"], project=project)
    assert result.dataset.num_items == 1
    assert [(r.source, r.line, r.reason) for r in result.report.rejected] == [
        ("rows.json", 3002, "invalid JSON: Expecting ',' delimiter (column 1)")]


def test_a_pretty_printed_json_arrays_rows_are_named_by_their_line(store, project, tmp_path) -> None:
    # The report named the element's number as its line: "alpaca.json:3" for what starts on line 10.
    data = tmp_path / "alpaca.json"
    rows = [{"instruction": "one", "output": "a"}, {"instruction": "two", "output": "b"}, 7]
    data.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    result = ingest_paths(store, [data], project=project)
    assert [(r.line, r.reason) for r in result.report.rejected] == [(10, "expected a JSON object or string, got int")]
    manifest = Path(result.dataset.path) / "manifest.jsonl"
    sources = sorted(json.loads(line)["source"] for line in manifest.read_text().splitlines())
    assert sources == ["alpaca.json:2", "alpaca.json:6"]


def test_a_parquet_file_of_one_row_group_is_read_a_batch_at_a_time(tmp_path) -> None:
    """A 70 MB Parquet file written as one row group (pyarrow's default) was read whole by Arrow
    before its first batch. Arrow's memory is not Python's: measured in a fresh process."""
    import subprocess
    import sys
    import textwrap

    data = tmp_path / "rows.parquet"
    texts = [f"row {i} " + "word " * 60 for i in range(40_000)]
    pq.write_table(pa.table({"text": texts}), data, compression="none", use_dictionary=False)
    assert pq.ParquetFile(data).metadata.num_row_groups == 1
    script = textwrap.dedent(f"""
        from pathlib import Path
        import pyarrow as pa
        from spark_trainer.ingest.text import read_parquet
        rows = sum(1 for _ in read_parquet(Path({str(data)!r})))
        print(rows, pa.default_memory_pool().max_memory())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.split()
    rows, peak = int(out[0]), int(out[1])
    assert rows == 40_000
    assert peak < data.stat().st_size / 2, f"Arrow held {peak / data.stat().st_size:.1f}x the file's size"


def test_a_csv_cell_longer_than_pythons_csv_limit_rejects_its_row_not_the_rest(store, project, tmp_path) -> None:
    # Python's csv refuses a cell over 131,072 characters and cannot go on: every row after a long
    # document was skipped ("field larger than field limit; the rest of the file was skipped").
    data = tmp_path / "docs.csv"
    rows = [f"doc {i},pos" for i in range(100)]
    rows[4] = '"' + "long, " * 40_000 + '",neg'
    data.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = ingest_paths(store, [data], project=project)
    assert result.dataset.num_items == 99
    assert [(r.line, r.reason) for r in result.report.rejected] == [
        (6, "text too long: 240000 characters; the limit is 100000")]
    longer = ingest_paths(store, [data], project=project, options=IngestOptions(max_text_chars=300_000))
    assert longer.dataset.num_items == 100


def test_a_txt_file_too_large_for_the_limit_is_refused_unread(store, project, tmp_path) -> None:
    """In --txt-mode file, a file far over the length limit was read and decoded whole, only to be
    rejected: a 2 GB log dropped among the documents took gigabytes. Now its size alone refuses it."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("a short document\n", encoding="utf-8")
    big = docs / "huge.log.txt"
    big.write_bytes(b"log line\n" * 2_000_000)  # 18 MB
    options = IngestOptions(txt_mode="file", max_text_chars=1_000)
    peak = _peak_reading(big, options)
    assert peak < big.stat().st_size / 10, f"refusing it took {peak / big.stat().st_size:.1f}x the file's size"
    result = ingest_paths(store, [docs], project=project, options=options)
    assert result.dataset.num_items == 1
    [rejected] = result.report.rejected
    assert rejected.source.endswith("huge.log.txt")
    assert rejected.reason == "text too long: the file is 18,000,000 bytes, over 1,000 characters; the limit is 1000"


def test_a_txt_file_near_the_limit_is_still_measured_in_characters(store, project, tmp_path) -> None:
    # 1,000 four-byte characters: 4,000 bytes, within a 1,000-character limit however many bytes.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "emoji.txt").write_text("\U0001F600" * 1_000, encoding="utf-8")
    (docs / "over.txt").write_text("x" * 1_001, encoding="utf-8")
    result = ingest_paths(store, [docs], project=project, options=IngestOptions(txt_mode="file", max_text_chars=1_000))
    assert result.dataset.num_items == 1
    [rejected] = result.report.rejected
    assert rejected.reason == "text too long: 1001 characters; the limit is 1000"


def test_a_number_where_text_is_read_is_trained_as_its_text_and_other_values_are_refused(store, project,
                                                                                          tmp_path) -> None:
    """{"text": 1, "label": 2} was rejected as "empty text"; {"text": 12345, "label": "zip"} was accepted
    with its label taken as the text, and refused only when a run trained on it ("'text' is not text").
    One rule now: a number where text is read is stored as its text (a math answer of 4 is "4");
    true/false, a list or an object there is refused at ingestion, naming its line."""
    data = _jsonl(tmp_path / "data.jsonl", [
        '{"text": "a real ticket", "label": "bug"}',   # 1
        '{"text": 12345, "label": "zip"}',             # 2
        '{"prompt": "2+2?", "completion": 4}',         # 3
        '{"text": "the order 12345 is late", "label": 3}',  # 4 a number as a label is left as it is
        '{"text": true, "label": "a"}',                # 5
        '{"prompt": "x", "completion": ["a", "b"]}',   # 6
    ])
    result = ingest_paths(store, [data], project=project)
    rejected = {r.line: r.reason for r in result.report.rejected}
    assert rejected == {5: "'text' is true, not text; put it in quotes to keep it as text",
                        6: "'completion' is [\"a\", \"b\"], not text; put it in quotes to keep it as text"}
    stored = [row["record"] for row in read_manifest(Path(result.dataset.path))]
    assert {"text": "12345", "label": "zip"} in stored and {"prompt": "2+2?", "completion": "4"} in stored
    assert {"text": "the order 12345 is late", "label": 3} in stored and len(stored) == 4


def test_json_lines_in_a_json_file_are_read_as_json_lines(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: `Dataset.to_json()` and pandas' `to_json(lines=True)` write one object a
    # line into a .json file; it was refused ("invalid JSON: Extra data").
    data = _jsonl(tmp_path / "lines.json", ['{"text": "a"}', '{"text": "b"}', '{"text": "c", "label": 1}'])
    result = ingest_paths(store, [data], project=project)
    assert result.dataset.num_items == 3 and not result.report.rejected
    broken = tmp_path / "broken.json"
    broken.write_text('[{"text": "a"}] x\n')  # not lines of objects: refused as before
    with pytest.raises(BadInput, match="invalid JSON: Extra data"):
        ingest_paths(store, [broken], project=project)


def test_a_csv_header_naming_a_column_twice_is_refused_not_read_with_one_column_lost(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: `text,text` kept the second column's values and lost the first's, unsaid.
    data = tmp_path / "dup.csv"
    data.write_text("text,text,label,,\na,b,1,,\nc,d,0,,\n")
    with pytest.raises(BadInput, match="the header names 'text' more than once; rename the columns"):
        ingest_paths(store, [data], project=project)
    trailing = tmp_path / "excel.csv"
    trailing.write_text("text,label,,\na,1,,\nc,0,,\n")  # Excel's empty trailing columns are not names
    assert ingest_paths(store, [trailing], project=project).dataset.num_items == 2



def test_utf16_text_is_skipped_whole_not_read_as_rows_of_nul_bytes(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: Excel's "Unicode Text" (UTF-16 with its mark) as .txt kept rows like
    # "\x00h\x00e\x00l..."; without the mark every row was kept, as CSV too.
    marked = tmp_path / "excel_unicode.txt"
    marked.write_bytes("text\tlabel\nhello\tpos\nbye\tneg\n".encode("utf-16"))
    unmarked = tmp_path / "plain.csv"
    unmarked.write_bytes("text,label\nhello,pos\nbye,neg\n".encode("utf-16-le"))
    fine = _jsonl(tmp_path / "fine.jsonl", ['{"text": "caf\u00e9"}', '{"text": "ok"}'])
    result = ingest_paths(store, [marked, unmarked, fine], project=project)
    reasons = {r.source: r.reason for r in result.report.rejected}
    assert reasons["excel_unicode.txt"].startswith("this file is UTF-16 text (Excel's \"Unicode Text\"")
    assert reasons["plain.csv"].startswith("this file is full of NUL bytes (UTF-16 text without its mark")
    assert all(r.line is None and "whole file was skipped" in r.reason for r in result.report.rejected)
    assert result.dataset.num_items == 2 and "\\u0000" not in json.dumps(read_manifest(result.dataset.path))


def test_files_with_no_rows_say_so_not_that_all_0_items_were_rejected(store, project, tmp_path) -> None:
    # Seen in an ingestion walk: a header-only CSV said "all 0 items were rejected (first: all were duplicates)".
    header = tmp_path / "header.csv"
    header.write_text("text,label\n")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    with pytest.raises(BadInput, match=r"^nothing to ingest: header\.csv holds no rows \(only a header, or blank"):
        ingest_paths(store, [header], project=project)
    with pytest.raises(BadInput, match=r"^nothing to ingest: header\.csv, blank\.jsonl hold no rows"):
        ingest_paths(store, [header, blank], project=project)
    assert leftovers(store) == ([], [])
