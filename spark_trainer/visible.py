"""Names from a user's files shown in one-line messages with nothing hidden in them.

A file may be named with a line break (`br\\noken.jsonl`) or a right-to-left override (U+202E makes
`evil\\u202egpj.csv` read as `evilvsc.jpg`): printed as they are, they split an error over two
lines, break the list of rejected rows, and let a name pass for another.
"""

from __future__ import annotations

import unicodedata

NEWLINE = "\u23ce"  # ⏎, as `dataset rows` and the Preview show a line break inside a cell
_JOINERS = frozenset("\u200c\u200d")  # zero-width (non-)joiners: part of how Indic, Persian and emoji are written


def visible(text: str, *, lines: bool = False) -> str:
    """`text` with each line break shown as ⏎ (kept as it is with `lines`), and every other control,
    bidi override and invisible format character as its code point, `<U+202E>`. Bytes that were not
    UTF-8 in a file name (Python's surrogate escapes) are shown as `\\xNN`."""
    return "".join(_shown(c, lines) for c in text.replace("\r\n", "\n"))


def _shown(c: str, lines: bool) -> str:
    category = unicodedata.category(c)
    if c.isprintable() and category != "Cf" or c in _JOINERS or c == " ":
        return c
    if c in "\n\r\u2028\u2029\x85":
        return c if lines and c == "\n" else NEWLINE
    if category == "Cs" and 0xDC80 <= ord(c) <= 0xDCFF:
        return f"\\x{ord(c) - 0xDC00:02x}"
    return f"<U+{ord(c):04X}>"
