"""The elements of a JSON array file, read as a stream (a 150 MB array loaded whole took 3.6 times
its size: its bytes, its text and every element at once)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_GOES_ON = re.compile(r"[0-9.eE+\-]*")
_DECODER = json.JSONDecoder()
CHUNK_CHARS = 1 << 16  # the file is read this many characters at a time


class NotAStreamableArray(Exception):
    """The file is not one well-formed JSON array: read it whole instead (for its exact error)."""


def array_elements(path: Path, chunk_chars: int = CHUNK_CHARS) -> Iterator[tuple[int, Any]]:
    """(line, element) for each element of the top-level array in `path` (UTF-8, a BOM allowed), a
    chunk at a time; `line` is the file's line where the element starts (an Alpaca file's fourth
    element is on line 17, and a report must point there).

    Raises NotAStreamableArray when the text is anything else, or is broken, once met; callers
    that must not act on part of a broken file check it first with `is_json_array`.
    """
    with open(path, encoding="utf-8-sig", newline="") as fh:
        buf, pos, eof = "", 0, False
        line = 1  # the line `pos` is on

        def advance(to: int) -> None:  # move pos forward, counting the line breaks passed
            nonlocal pos, line
            line += buf.count("\n", pos, to)
            pos = to

        def more(need: int) -> bool:  # append text until `need` characters are held past pos
            nonlocal buf, pos, eof
            while not eof and len(buf) - pos < need:
                chunk = fh.read(max(chunk_chars, need))
                eof = not chunk
                buf, pos = buf[pos:] + chunk, 0
            return len(buf) - pos >= need

        def skip_space() -> str:  # the next character that is not whitespace, or "" at the end
            nonlocal pos
            while True:
                advance(_SPACE.match(buf, pos).end())  # type: ignore[union-attr]  # always matches
                if pos < len(buf) or not more(1):
                    return buf[pos:pos + 1]

        if skip_space() != "[":
            raise NotAStreamableArray
        pos += 1
        if skip_space() == "]":
            pos += 1
        else:
            while True:
                skip_space()
                need = chunk_chars
                while True:
                    try:
                        value, end = _DECODER.raw_decode(buf, pos)
                        # A number the chunk cut ("1." of "1.5") decodes: it is whole only when
                        # something that cannot go on with it follows.
                        if eof or not (type(value) in (int, float) and _NUMBER_GOES_ON.fullmatch(buf, end)):
                            break
                    except json.JSONDecodeError:
                        if eof:
                            raise NotAStreamableArray from None
                    # Cut by the chunk's end: read more, twice as much
                    # each time, so a long element is decoded a few times at most.
                    more(len(buf) - pos + need)
                    need *= 2
                start = line
                advance(end)
                yield start, value
                sep = skip_space()
                pos += 1
                if sep == "]":
                    break
                if sep != ",":
                    raise NotAStreamableArray
        if skip_space() != "":
            raise NotAStreamableArray  # text after the array


def array_numbering(path: Path) -> str | None:
    """How to name the elements of the one well-formed JSON array `path` holds (read as a stream,
    nothing kept): "line" when each starts on a line of its own (a pretty-printed file: its lines
    say where), "element" when some share a line (`json.dump` without indent writes one line: its
    element numbers say where). None when the file is not such an array."""
    numbering, last = "line", 0
    try:
        for line, _ in array_elements(path):
            if line == last:
                numbering = "element"
            last = line
    except NotAStreamableArray:
        return None
    return numbering
