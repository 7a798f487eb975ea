"""spark_trainer/errors.py: how an unexpected exception is written down for a run or a task."""

from __future__ import annotations

from spark_trainer.errors import describe


def test_describe_puts_the_message_on_the_first_line() -> None:
    assert describe(ImportError("\nneeds torchvision\nmore")) == "ImportError: needs torchvision\nmore"
    assert describe(ValueError("bad value")) == "ValueError: bad value"
    assert describe(RuntimeError()) == "RuntimeError"
    assert describe(KeyError("label")) == "KeyError: 'label'"


def test_describe_gives_the_apps_own_errors_as_their_words_alone() -> None:
    # Seen in the CLI walk: a run failed on its data showed "ConfigError: dataset x: ..." in the Runs list
    # and `run show`: the class name is the program's word, and our errors are already one line for people.
    from spark_trainer.errors import BadInput, ConfigError, DiskFull

    assert describe(ConfigError("dataset x: no image left to train on")) == "dataset x: no image left to train on"
    assert describe(BadInput("\n  one line  ")) == "one line"
    assert describe(DiskFull("disk full at /d: 1.0 MiB free")) == "disk full at /d: 1.0 MiB free"
    assert describe(ConfigError()) == "ConfigError"  # no words to show: the name is all there is
