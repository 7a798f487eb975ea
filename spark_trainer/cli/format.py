"""Small text helpers for command output."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from spark_trainer.disk import human_bytes  # noqa: F401 - the CLI's formatters are imported from here
from spark_trainer.store.entities import MAX_ID, local_time


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "(none)", *,
          upper: bool = True) -> str:
    """A plain left-aligned text table; headers upper-cased unless they are data (`upper=False`: class
    names heading a confusion matrix's columns, where 'Cat' and 'cat' are two classes)."""
    if not rows:
        return empty
    cells = [[_cell(v) for v in row] for row in rows]
    headers = [h.upper() if upper else h for h in headers]  # before measuring: 'ß' becomes 'SS'
    widths = [max(cells_wide(h), *(cells_wide(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def cells_wide(text: str) -> int:
    """How many terminal cells `text` takes: a CJK character or an emoji two (East Asian Wide or
    Fullwidth), a combining accent, a zero-width joiner and what it joins none, anything else one.
    `len` counted 'é' typed as 'e' + U+0301 as two and '数据' as two, and the columns after them slid."""
    width, joined, last, before = 0, False, 0, ""
    for c in text:
        if c == "\ufe0f" and last == 1 and (unicodedata.category(before) == "So" or before in "0123456789#*"):
            width, last = width + 1, 2  # VS16: the symbol before it drawn as an emoji ('❤️', '1️⃣'), two cells
            continue
        if "\U0001f3fb" <= c <= "\U0001f3ff" and last == 2:  # a skin tone modifies the emoji before it ('👍🏽')
            continue
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            joined = c == "\u200d"  # ZWJ: the next emoji draws into the one before it
            continue
        if not joined:
            last = 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
            width, before = width + last, c
        joined = False
    return width


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal cells (`cells_wide`), as `ljust` pads characters."""
    return text + " " * max(0, width - cells_wide(text))


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`key: value` lines, keys aligned; a value of several lines continues under its first."""
    width = max(len(k) for k, _ in pairs)
    lines = []
    for key, value in pairs:
        first, *rest = _cell(value).splitlines() or [""]
        lines.append(f"{key.ljust(width)}  {first}")
        lines += [" " * (width + 2) + line if line.strip() else "" for line in rest]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return f"{local_time(value):%Y-%m-%d %H:%M}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def _number(kind: type, minimum: float, inclusive: bool, what: str):
    """An argparse `type=` that parses `kind` and refuses values below `minimum` (one clear line)."""
    import argparse

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum or (value == minimum and not inclusive) or value != value:  # NaN too
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if value > MAX_ID:  # an id, count or offset past SQLite's (and sys.maxsize's) range; inf too
            raise argparse.ArgumentTypeError(f"{text!r} is too large (at most {MAX_ID})")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


non_negative_int = _number(int, 0, True, "a whole number >= 0")
positive_int = _number(int, 1, True, "a whole number >= 1")
non_negative_float = _number(float, 0.0, True, "a number >= 0")
positive_float = _number(float, 0.0, False, "a number > 0")
