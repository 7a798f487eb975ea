"""Which character separates the fields of a CSV file as spreadsheets write them.

Excel in most of Europe (where the comma is the decimal mark) saves "CSV" with semicolons; a tab
also turns up in files named .csv. The header line decides: the separator that splits it into the
most names, outside quotes. A .tsv file is always tab-separated.

Also what ingestion and evaluation both say about a file they cannot read: a quote left open, a
line that is not UTF-8.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

CANDIDATES = (",", ";", "\t")
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_SEP_LINE = re.compile(r'^"?sep=(.)"?\s*$', re.IGNORECASE)


def excel_separator(text: str) -> str | None:
    """The separator a first line `sep=;` names (Excel reads and writes it so that the file opens in
    columns in any locale), else None. That line is not the header: the next one is."""
    first = text.splitlines()[0] if text else ""
    match = _SEP_LINE.match(first)
    return match.group(1) if match else None


def delimiter_for(header: str, suffix: str = ".csv") -> str:
    """The field separator of a delimited file whose first line is `header` (its extension `suffix`)."""
    if suffix.lower() == ".tsv":
        return "\t"
    named = excel_separator(header)
    if named:
        return named
    bare = _QUOTED.sub("", header.splitlines()[0] if header else "")
    counts = {c: bare.count(c) for c in CANDIDATES}
    best = max(CANDIDATES, key=lambda c: counts[c])  # ties keep the comma (first)
    return best if counts[best] else ","


# Python's csv stops at a cell over 131,072 characters, and the rest of the file with it: one long
# document lost every row after it. The higher bound still stops a quote left open from taking in the
# whole file as one cell. csv's limit is process-wide, so every reader here raises it the same way
# (ingestion, evaluation data, captions, image-folder CSVs) and none depends on another having run.
CELL_CHARS = 16 * 2**20


def allow_long_cells() -> None:
    csv.field_size_limit(max(csv.field_size_limit(), CELL_CHARS))


def row_error(exc: csv.Error) -> str:
    """What a `csv.Error` raised while reading a row means, in words a user can act on."""
    if "field larger than field limit" in str(exc):
        return f"a cell is over {csv.field_size_limit()} characters (a quote left open, or a whole document in one cell)"
    return f"CSV error: {exc}"


def dict_reader(fh: IO[str], suffix: str = ".csv") -> tuple[csv.DictReader, int]:
    """(a DictReader over the open file `fh` (opened with newline=""), the line number of its first
    row): the separator as `delimiter_for` finds it, Excel's `sep=` line skipped, the header's names
    stripped of stray spaces (as ingestion names them: "text, label" has a column "label")."""
    allow_long_cells()
    first = fh.readline()
    named = excel_separator(first)
    if named is None:
        fh.seek(0)
    reader = csv.DictReader(fh, delimiter=named or delimiter_for(first, suffix))
    reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
    return reader, 3 if named else 2


def unclosed_quote(cells: list[Any], header_fields: int, last: bool) -> bool:
    """Whether a row read from a delimited file is a quote left open: csv then reads the rest of the file
    as one cell, so the file's last row comes short of the header, its last cell holding line breaks."""
    filled = [c for c in cells if c is not None]
    return last and 0 < len(filled) < header_fields and "\n" in str(filled[-1])


def unclosed_quote_problem(line: int) -> str:
    """The one wording ingestion and evaluation use for `unclosed_quote`."""
    return f"line {line}: a quote opened on this line is never closed (the rest of the file became one cell)"


def with_last(items: Iterator[T]) -> Iterator[tuple[T, bool]]:
    """(item, whether it is the last one) of a stream, one item ahead."""
    it = iter(items)
    sentinel = object()
    previous: Any = next(it, sentinel)
    if previous is sentinel:
        return
    for item in it:
        yield previous, False
        previous = item
    yield previous, True


def first_utf8_error(path: Path, chunk_bytes: int = 1 << 18) -> tuple[str, int] | None:
    """(problem, line) for the first byte of `path` that is not UTF-8, else None; reads a chunk at a time."""
    offset = newlines = 0  # bytes checked so far, and the line breaks among them
    pending = b""  # a character cut by the end of the last chunk
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_bytes)
            data = pending + chunk
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as exc:
                if not (chunk and exc.reason == "unexpected end of data"):
                    line = newlines + data.count(b"\n", 0, exc.start) + 1
                    return f"not valid UTF-8 at line {line} (byte {offset + exc.start}: {exc.reason})", line
                good = exc.start
            newlines += data.count(b"\n", 0, good)
            offset += good
            pending = data[good:]
            if not chunk:
                return None
