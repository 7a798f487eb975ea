"""Command-line tables line up in a terminal whatever script their cells are written in."""

from __future__ import annotations

import pytest

from spark_trainer.cli.format import table


@pytest.mark.parametrize(("name", "cells"), [
    ("\u6570\u636e\u96c6", 6),  # 数据集: CJK, two cells each
    ("\U0001f600 data", 7),  # 😀 data: an emoji, two cells
    ("Cafe\u0301 re\u0301sume\u0301", 11),  # combining accents take no cell of their own
    ("\U0001f468\u200d\U0001f469\u200d\U0001f467", 2),  # 👨‍👩‍👧: one family, drawn as one emoji
    ("\uff21\uff22", 4),  # fullwidth letters
])
def test_the_column_after_a_wide_or_combining_name_starts_where_the_others_do(name: str, cells: int) -> None:
    width = max(cells, len("plain"))
    assert table(["name", "kind"], [(name, "text"), ("plain", "image")]).splitlines() == [
        "NAME" + " " * (width - 4) + "  KIND",
        name + " " * (width - cells) + "  text",
        "plain" + " " * (width - 5) + "  image",
    ]


def test_cells_are_counted_as_a_terminal_draws_them() -> None:
    from spark_trainer.cli.format import cells_wide, pad

    assert cells_wide("abc") == 3 and cells_wide("\u6570\u636e") == 4 and cells_wide("e\u0301") == 1
    assert pad("\u6570", 3) == "\u6570 " and pad("toolong", 3) == "toolong"


def test_an_emoji_with_a_skin_tone_or_drawn_as_an_emoji_by_vs16_is_two_cells() -> None:
    # '👍🏽' counted 4 and '❤️' 1 (the walk of this session's changes): terminals draw both in two cells.
    from spark_trainer.cli.format import cells_wide

    assert cells_wide("\U0001f44d\U0001f3fd") == 2 and cells_wide("\u2764\ufe0f") == 2 and cells_wide("\u2764") == 1
    assert cells_wide("1\ufe0f\u20e3") == 2 and cells_wide("a\ufe0f") == 1  # a keycap; VS16 changes no letter
    assert cells_wide("x\U0001f3fd") == 3  # a tone after no emoji is drawn on its own
