"""doctor's library versions: a frozen app (PyInstaller) keeps only some packages' metadata."""

from __future__ import annotations

import importlib.metadata

import pytest

from spark_trainer.cli import system


def test_a_library_without_metadata_is_found_through_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(dist: str) -> str:
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(importlib.metadata, "version", no_metadata)
    import PySide6

    assert system._version("PySide6-Essentials") == PySide6.__version__
    assert system._version("no-such-library-here") is None
