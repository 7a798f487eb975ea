"""spark_trainer/errors.py: how an unexpected exception is written down for a run or a task."""

from __future__ import annotations

from spark_trainer.errors import describe


def test_describe_puts_the_message_on_the_first_line() -> None:
    assert describe(ImportError("\nneeds torchvision\nmore")) == "ImportError: needs torchvision\nmore"
    assert describe(ValueError("bad value")) == "ValueError: bad value"
    assert describe(RuntimeError()) == "RuntimeError"
    assert describe(KeyError("label")) == "KeyError: 'label'"
