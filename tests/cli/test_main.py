"""The command-line parser (spark_trainer/cli/main.py): how its usage lines and usage errors read, and how it
prints a result."""

from __future__ import annotations


def test_positional_names_read_as_the_readme_writes_them(cli) -> None:
    # Seen in the CLI walk: `run show --help` said "usage: spark-trainer run show [-h] ... run" and a missing
    # one "the following arguments are required: run", where the README and the docs write RUN.
    shown = cli("run", "show", "--help")
    assert shown.code == 0 and shown.out.splitlines()[0].endswith(" RUN"), shown.out
    renamed = cli("dataset", "rename", "--help")
    assert "DATASET NEW_NAME" in renamed.out.split("\n\n")[0], renamed.out
    missing = cli("export")
    assert missing.code == 2 and missing.err.rstrip().endswith("the following arguments are required: RUN"), missing.err
    chosen = cli("run", "list", "--help")  # an option's value keeps its own metavar
    assert chosen.code == 0 and "--status" in chosen.out


def test_global_options_between_positional_words_leave_them_in_place(cli, home) -> None:
    # Seen in the CLI walk: `compare 1 --json 2` and `settings show --json theme` said "unrecognized
    # arguments": argparse drops the words of a positional list after an option. The README says --json
    # goes before or after the command.
    assert cli("settings", "show", "--json", "theme").json() == {"theme": "dark"}
    assert cli("settings", "theme", "--debug", "light").out.strip() == "theme = light"
    assert cli("recipes", "show", "--json", "causal-lm").json()["name"] == "causal-lm"
    assert cli("settings", "--home", str(home), "theme", use_home=False).out.strip() == "light"
    missing = cli("run", "list", "--home")  # a --home without its DIR is not moved: argparse says what is wrong
    assert missing.code == 2 and "argument --home: expected one argument" in missing.err
    kept = cli("settings", "theme", "--", "--json")  # after `--` a word is a value, never moved
    assert kept.code == 2 and "--json" in kept.err and "theme" in cli("--json", "settings").out


def test_an_unknown_command_from_another_tool_names_the_one_meant_here(cli) -> None:
    # Seen in a CLI walk: `experiment list` said "did you mean 'export'?" (closest by spelling).
    for words, meant in ((("experiment", "list"), "exp"), (("run", "watch", "1"), "logs"),
                         (("dataset", "rm", "1"), "delete"), (("project", "ls"), "list")):
        result = cli(*words)
        assert result.code == 2 and f"(did you mean {meant!r}?)" in result.err, result.err
    assert "(did you mean 'export'?)" in cli("exprot").err  # spelling still finds the rest


def test_a_relative_path_from_a_deleted_working_directory_says_so(cli, home, tmp_path, monkeypatch) -> None:
    # Seen in a walk: `--home rel` or `dataset ingest ./x` there said "I/O error while running ...: No such
    # file or directory", naming nothing.
    assert cli("project", "create", "p").code == 0
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    for words in (("--home", "rel", "project", "list"), ("--home", str(home), "dataset", "ingest", "./x", "--project", "p")):
        refused = cli(*words, use_home=False)
        assert refused.code == 2 and refused.err.startswith("error: the working directory was deleted"), refused.err
        assert refused.err.count("\n") == 1
    assert cli("project", "list").code == 0  # absolute paths still work there


def test_a_value_starting_with_a_dash_is_hinted_to_go_after_double_dash(cli) -> None:
    # Seen in a walk: `project show -dash` said only "the following arguments are required: PROJECT".
    assert cli("project", "create", "--", "-dash").code == 0
    hinted = cli("project", "show", "-dash")
    assert hinted.code == 2 and hinted.err.count("\n") == 1, hinted.err
    assert hinted.err.rstrip().endswith("required: PROJECT (-dash was read as an option; a value that starts with a "
                                        "dash goes after --, as in spark-trainer project show -- -dash)")
    assert "-dash" in cli("project", "show", "--", "-dash").out
    assert "(" not in cli("project", "show").err and "(" not in cli("project", "list", "-x").err  # no word to name


def test_a_streamed_result_is_written_piece_by_piece_as_its_pieces_come(monkeypatch) -> None:
    """A long answer (a run's millions of metric points) is written as it is made, not held as one
    string; its pieces joined read as the text would, with the one line break after it."""
    from spark_trainer.cli import main as cli_main
    from spark_trainer.cli.context import Result, Streamed

    written: list[str] = []
    monkeypatch.setattr(cli_main, "write_stdout", written.append)

    def pieces():
        yield "STEP  KEY"
        assert written == ["STEP  KEY"]  # the first piece is out before the second is made
        yield ""
        yield "\n1     loss"

    cli_main._print_result(Result(None, Streamed(pieces)), as_json=False)
    assert written == ["STEP  KEY", "\n1     loss", "\n"]
    written.clear()
    cli_main._print_result(Result(Streamed(lambda: iter(["[", "]"])), "unused"), as_json=True)
    assert written == ["[", "]", "\n"]
    written.clear()
    cli_main._print_result(Result(None, Streamed(lambda: iter([]))), as_json=False)  # as an empty text: nothing
    assert written == []
