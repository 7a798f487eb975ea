"""Which character separates the fields of a CSV file as spreadsheets write them.

Excel in most of Europe (where the comma is the decimal mark) saves "CSV" with semicolons; a tab
also turns up in files named .csv. The header line decides: the separator that splits it into the
most names, outside quotes. A .tsv file is always tab-separated.
"""

from __future__ import annotations

import csv
import re
from typing import IO

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
