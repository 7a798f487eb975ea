"""`spark-trainer recipes NAME`: one recipe's fields as a table a terminal can show."""

from __future__ import annotations


def test_a_long_choice_list_is_written_under_the_table_not_in_its_column(cli) -> None:
    # causal-lm's `format` has ten choices (150 characters): in the ALLOWED column they pushed every
    # field's help 150 characters to the right, off an ordinary terminal.
    out = cli("recipes", "causal-lm").out
    header = next(line for line in out.splitlines() if line.startswith("FIELD"))
    assert header.index("HELP") < 100  # 171 with the choices in their column
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "see below" in rows["format"] and "lora | qlora | dora | full" in rows["method"]
    below = out.split("\nallowed:\n", 1)[1].splitlines()
    assert below == ["  format: auto | mixed | text | prompt-completion | messages | sharegpt | alpaca | dolly | "
                     "question-answer | prompt-response"]
    assert "choices" in next(f for f in cli("--json", "recipes", "causal-lm").json()["fields"] if f["name"] == "format")


def test_list_and_show_work_as_in_the_other_groups(cli) -> None:
    # `recipes list` said "unknown recipe 'list'"; `recipes show NAME` was an unrecognized argument.
    assert cli("--json", "recipes", "list").json() == cli("--json", "recipes").json()
    assert cli("--json", "recipes", "show", "causal-lm").json() == cli("--json", "recipes", "causal-lm").json()
    refused = cli("recipes", "show")
    assert refused.code == 2 and "recipes show: expected `recipes [list | [show] NAME]`" in refused.err
