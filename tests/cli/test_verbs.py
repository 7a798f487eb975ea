"""The optional verbs of commands whose bare form acts (settings, recipes, gpus)."""

from __future__ import annotations

import pytest

from spark_trainer.cli.verbs import strip_verb
from spark_trainer.errors import BadInput

VERBS = {"list": 0, "show": 1, "set": 2}


@pytest.mark.parametrize(("words", "rest"), [
    ((), []), (("list",), []), (("show", "k"), ["k"]), (("k",), ["k"]), (("set", "k", "v"), ["k", "v"]),
    (("k", "v"), ["k", "v"]), (("listing",), ["listing"]),  # only the whole word is a verb
])
def test_a_verb_is_dropped_and_the_bare_form_kept(words, rest) -> None:
    assert strip_verb("settings", words, VERBS, 2, "USAGE") == rest


@pytest.mark.parametrize("words", [("list", "k"), ("show",), ("show", "k", "v"), ("set", "k"), ("a", "b", "c")])
def test_a_wrong_count_of_words_names_the_usage(words) -> None:
    with pytest.raises(BadInput, match=f"^settings {' '.join(words)}: expected `USAGE`$"):
        strip_verb("settings", words, VERBS, 2, "USAGE")
