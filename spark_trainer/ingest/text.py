"""Text readers (JSONL, JSON arrays, CSV/TSV, TXT, Parquet) and the text quality gates.

Each reader yields `(line, record, problem)`: a record (a dict) or a problem naming what is wrong.
`line` is the 1-based line in the file (the row number for Parquet, the index for JSON arrays).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from spark_trainer.delimited import (
    allow_long_cells,
    delimiter_for,
    excel_separator,
    first_utf8_error,
    unclosed_quote,
    unclosed_quote_problem,
    with_last,
)
from spark_trainer.ingest.detect import InputFile
from spark_trainer.ingest.json_array import array_elements, array_numbering
from spark_trainer.ingest.splits import split_of_file
from spark_trainer.ingest.staging import DatasetBuilder, Item
from spark_trainer.ingest.types import IngestOptions, IngestReport, check_cancel
from spark_trainer.visible import visible

Row = tuple[int | None, dict[str, Any] | None, str | None]
TEXT_KEYS = ("text", "prompt", "completion", "instruction", "input", "output", "question", "answer",
             "response", "content")


def record_text(record: dict[str, Any]) -> str:
    """The text a model will see: known fields, chat message contents, else every string value."""
    parts: list[str] = []
    messages = record.get("messages") or record.get("conversations")
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict):
                content = m.get("content", m.get("value"))
                if isinstance(content, str):
                    parts.append(content)
    parts += [record[k] for k in TEXT_KEYS if isinstance(record.get(k), str)]
    if not parts and not isinstance(messages, list):
        parts = [v for v in record.values() if isinstance(v, str)]
    return "\n".join(parts)


def settle_text_fields(record: dict[str, Any]) -> str | None:
    """Make the fields a model reads as text (`TEXT_KEYS`) text, in place, or say why not.

    A number there becomes its JSON text (an answer of 42 is trained as "42"), so the stored record
    holds what training reads; true/false, a list or an object there is refused (a shifted column,
    most likely), not turned into text nor passed over for another field. Returns the reason, or
    None when the record is fine."""
    for key in TEXT_KEYS:
        value = record.get(key)
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            record[key] = json.dumps(value)
            continue
        return f"{key!r} is {json.dumps(value)[:40]}, not text; put it in quotes to keep it as text"
    return None


SAVE_AS_UTF8 = "save the file as UTF-8 (in Excel: CSV UTF-8; in an editor: encoding UTF-8)"


def _utf8_problem(data: bytes, exc: UnicodeDecodeError) -> tuple[str, int]:
    line = data.count(b"\n", 0, exc.start) + 1
    return f"not valid UTF-8 at line {line} (byte {exc.start}: {exc.reason})", line


def read_jsonl(path: Path) -> Iterator[Row]:
    """Rows of a JSONL file. An empty line between records is rejected (a record may be missing
    there); empty lines at the end of the file are what editors and `print` leave, and are not rows."""
    blank: list[int] = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                # utf-8-sig on every line: files joined with `cat` carry each part's BOM inside
                line = raw.decode("utf-8-sig").strip()
            except UnicodeDecodeError as exc:
                yield number, None, f"not valid UTF-8 (byte {exc.start} of the line: {exc.reason}); {SAVE_AS_UTF8}"
                continue
            if not line:
                blank.append(number)
                continue
            yield from ((n, None, "empty line") for n in blank)
            blank.clear()
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
                continue
            yield (number, *_as_record(value))


def _as_record(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if isinstance(value, dict):
        return value, None
    if isinstance(value, str):
        return {"text": value}, None
    return None, f"expected a JSON object or string, got {type(value).__name__}"


def read_json(path: Path) -> Iterator[Row]:
    """Records of a JSON array (or of an object's one list, or the object itself). A well-formed
    array is read as a stream, checked whole first: a broken file is refused whole, as before, with
    the message of reading it whole. An array's records are numbered by the line each starts on,
    or by their place in it where several share a line (`array_numbering`)."""
    numbering = array_numbering(path)
    if numbering is not None:
        for index, (line, element) in enumerate(array_elements(path), start=1):
            yield (line if numbering == "line" else index, *_as_record(element))
        return
    data = path.read_bytes()
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        problem, line = _utf8_problem(data, exc)
        yield line, None, problem
        return
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            # One object per line in a .json file: what `Dataset.to_json()` and pandas' `lines=True` write.
            yield from read_jsonl(path)
            return
        yield exc.lineno, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
        return
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 else [value]
    if not isinstance(value, list):
        yield None, None, "expected a JSON array of objects"
        return
    for index, element in enumerate(value, start=1):
        yield (index, *_as_record(element))


def read_csv(path: Path) -> Iterator[Row]:
    """Rows of a CSV/TSV file, read as a stream (a 120 MB CSV read whole, as bytes, text and a
    StringIO copy, took 1.2 GB). A file that is not UTF-8 is skipped whole, so it is checked first."""
    if bad := first_utf8_error(path):
        problem, line = bad
        yield line, None, problem + "; the whole file was skipped (save it as UTF-8; in Excel: CSV UTF-8)"
        return
    allow_long_cells()  # a cell over csv's default 131,072 characters ended the file (spark_trainer.delimited)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        head = fh.read(4096)
        fh.seek(0)
        delimiter = delimiter_for(head, path.suffix)
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
            if excel_separator(head):  # Excel's "sep=;" line comes before the header
                header = next(reader)
        except (StopIteration, csv.Error):
            yield 1, None, "no header row"
            return
        header = [name.strip() for name in header]  # "text, label" written by hand names "label", not " label"
        twice = sorted({name for name in header if name and header.count(name) > 1})
        if twice:  # zip() would keep the last column of a name and lose the others, unsaid
            yield 1, None, (f"the header names {', '.join(map(repr, twice))} more than once; rename the columns "
                            "so each name is used once (the whole file was skipped)")
            return
        start = reader.line_num + 1
        try:
            for (cells, end), last in with_last((cells, reader.line_num) for cells in reader):
                line, start = start, end + 1
                if not cells:
                    continue
                if unclosed_quote(cells, len(header), last):
                    yield line, None, unclosed_quote_problem(line).removeprefix(f"line {line}: ")
                    continue
                if len(cells) != len(header):
                    yield line, None, f"row has {len(cells)} fields; the header has {len(header)}"
                    continue
                yield line, dict(zip(header, map(_unix_newlines, cells), strict=True)), None
        except csv.Error as exc:
            yield reader.line_num, None, f"CSV error: {exc}; the rest of the file was skipped"


def _unix_newlines(text: str) -> str:
    """Line breaks inside a cell or a whole-file text as "\n": a file saved on Windows (\r\n) or an
    old Mac (\r) must not teach a model to write carriage returns."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_txt(path: Path, mode: str, max_chars: int | None = None) -> Iterator[Row]:
    if mode == "file":
        size = path.stat().st_size
        # A UTF-8 character is at most 4 bytes (and a BOM 3 more): a file past that cannot be within
        # `max_chars`, so it is refused unread (a 2 GB log dropped among the documents was read whole,
        # and decoded, only to be rejected for its length).
        if max_chars is not None and size > 4 * max_chars + 3:
            yield None, None, f"text too long: the file is {size:,} bytes, over {max_chars:,} characters; the limit is {max_chars}"
            return
        data = path.read_bytes()
        try:
            yield None, {"text": _unix_newlines(data.decode("utf-8-sig"))}, None
        except UnicodeDecodeError as exc:
            problem, line = _utf8_problem(data, exc)
            yield line, None, problem
        return
    yield from _txt_lines(path)


def _txt_lines(path: Path) -> Iterator[Row]:
    """A record per non-empty line, read as a stream (a 97 MB .txt read whole and split took 3.2
    times its size). A file yields lines ending at "\n"; splitting each again also breaks at a lone
    "\r" (an old Mac's line end), so lines and their numbers are those of `bytes.splitlines`."""
    with open(path, "rb") as fh:
        lines = (line for piece in fh for line in piece.splitlines())
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8-sig")  # joined files carry BOMs inside, too
            except UnicodeDecodeError as exc:
                yield number, None, f"not valid UTF-8 (byte {exc.start} of the line: {exc.reason}); {SAVE_AS_UTF8}"
                continue
            if line.strip():
                yield number, {"text": line.rstrip("\r")}, None


def read_parquet(path: Path) -> Iterator[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # Column chunks are read through a 1 MB buffer: a file written as one row group (pyarrow's
        # default up to a million rows) was otherwise read whole, 82 MB of Arrow memory for 70 MB.
        parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
        number = 0
        for batch in parquet.iter_batches(batch_size=2048):
            for record in batch.to_pylist():
                number += 1
                yield number, record, None
    except (pa.ArrowException, OSError) as exc:
        yield None, None, f"cannot read Parquet: {exc}"


def wide_text_problem(path: Path) -> str | None:
    """Why a text file is UTF-16 (or 32) rather than UTF-8, else None. Its ASCII letters are valid UTF-8
    each followed by a NUL, so it read as rows of "\x00h\x00e\x00l..." (Excel's "Unicode Text" and
    Notepad's "Unicode" save so)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        what = "UTF-16 text (Excel's \"Unicode Text\", Notepad's \"Unicode\")"
    elif head and head.count(b"\x00") * 4 >= len(head):
        what = "full of NUL bytes (UTF-16 text without its mark, or not text at all)"
    else:
        return None
    return f"this file is {what}, not UTF-8; the whole file was skipped: {SAVE_AS_UTF8}"


def rows_of(f: InputFile, options: IngestOptions) -> Iterator[Row]:
    ext = f.ext
    if ext != ".parquet" and (wide := wide_text_problem(f.path)):
        return iter([(None, None, wide)])
    if ext == ".jsonl":
        return read_jsonl(f.path)
    if ext == ".json":
        return read_json(f.path)
    if ext in (".csv", ".tsv"):
        return read_csv(f.path)
    if ext == ".txt":
        return read_txt(f.path, options.txt_mode, options.max_text_chars)
    return read_parquet(f.path)


def content_hash(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def ingest_text_file(f: InputFile, builder: DatasetBuilder, options: IngestOptions, report: IngestReport,
                     cancel: threading.Event | None, tick: Callable[[str], None] | None = None) -> None:
    """Gate every record of one text file; accepted ones go to `builder`, the rest to `report`.

    `tick` gets a message every 10,000 records so a long file shows life.
    """
    if f.path.stat().st_size < options.min_file_bytes:
        report.reject(f.source, None, "empty file (0 bytes)")
        return
    split = split_of_file(f)
    for count, (line, record, problem) in enumerate(rows_of(f, options)):
        if count % 1000 == 0:
            check_cancel(cancel)
            if tick is not None and count and count % 10_000 == 0:
                tick(f"reading {visible(f.source)}: {count} records")
        if problem is not None or record is None:
            report.reject(f.source, line, problem or "no record")
            continue
        problem = settle_text_fields(record)
        if problem is not None:
            report.reject(f.source, line, problem)
            continue
        text = record_text(record)
        if len(text.strip()) < options.min_text_chars:
            report.reject(f.source, line, "empty text")
            continue
        if len(text) > options.max_text_chars:
            report.reject(f.source, line, f"text too long: {len(text)} characters; the limit is {options.max_text_chars}")
            continue
        source = f.source if line is None else f"{f.source}:{line}"
        item = Item(sha256=content_hash(record), source=f.source, line=line, split=split,
                    row={"source": source, "record": record}, size=len(text.encode("utf-8")),
                    stats={"chars": len(text)})
        builder.add(item)
