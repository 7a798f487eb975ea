"""The command-line parser (spark_trainer/cli/main.py): how its usage lines and usage errors read."""

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
