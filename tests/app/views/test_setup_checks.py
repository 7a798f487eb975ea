"""The setup form's own checks (no store, no disk): each bad field gets its own message."""

from __future__ import annotations

from app.views.setup_checks import field_errors

GOOD = {"project": "demo", "name": "tiny-lora", "dataset": "train", "gpus": "auto"}


def test_good_values_have_no_errors() -> None:
    assert field_errors(GOOD) == {}


def test_each_bad_field_is_named_with_its_own_message() -> None:
    errors = field_errors({"project": "", "name": "", "dataset": "", "gpus": "three"})
    assert set(errors) == {"project", "name", "dataset", "gpus"}
    assert "project" in errors["project"]
    assert errors["name"] == "give the experiment a name"
    assert errors["dataset"] == "choose a dataset, or a file or folder to ingest"
    assert "three" in errors["gpus"]
    assert set(field_errors({**GOOD, "name": "n" * 300})) == {"name"}
