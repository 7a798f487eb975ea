"""What a file's name hides is shown in the one-line messages that name it."""

from __future__ import annotations

from spark_trainer.visible import visible


def test_line_breaks_and_bidi_overrides_are_shown_not_obeyed() -> None:
    assert visible("evil\nname \u202egpj.csv") == "evil\u23cename <U+202E>gpj.csv"
    assert visible("a\r\nb\rc\u2028d") == "a\u23ceb\u23cec\u23ced"
    assert visible("tab\there\u200b\ufeff") == "tab<U+0009>here<U+200B><U+FEFF>"
    assert visible("caf\\x-\udcff") == "caf\\x-\\xff"  # a byte that was not UTF-8 in the name


def test_what_writes_a_name_is_left_as_it_is() -> None:
    for name in ("Caf\u00e9 re\u0301sume\u0301", "\u0939\u093f\u0902\u0926\u0940", "\u6570\u636e \u2603",
                 "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"):
        assert visible(name) == name


def test_a_message_of_several_lines_keeps_them_when_asked() -> None:
    assert visible("failed\nlog line \u202e", lines=True) == "failed\nlog line <U+202E>"
