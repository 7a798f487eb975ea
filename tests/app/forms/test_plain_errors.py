"""The form's errors read as a person writes them (walk s25, s27a)."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError


class _Train(BaseModel):
    max_steps: int = Field(10, ge=1)
    learning_rate: float = Field(1e-4, gt=0, le=1.0)
    precision: str = "auto"


def _errors(**values) -> dict[str, str]:
    from app.forms.plain_errors import plain_error

    try:
        _Train.model_validate(values)
    except ValidationError as exc:
        return {str(e["loc"][0]): plain_error(e, str(e["loc"][0])) for e in exc.errors()}
    return {}


def test_bounds_and_types_read_as_sentences_about_the_field() -> None:
    assert _errors(max_steps=-5, learning_rate="abc") == {"max_steps": "Max steps must be at least 1",
                                                         "learning_rate": "Learning rate must be a number"}
    assert _errors(learning_rate=0) == {"learning_rate": "Learning rate must be greater than 0"}
    assert _errors(learning_rate=2.5) == {"learning_rate": "Learning rate must be at most 1"}
    assert _errors(max_steps="1.5") == {"max_steps": "Max steps must be a whole number"}


def test_the_form_shows_them_under_the_field_and_on_the_launch_line(qtbot) -> None:
    from app.forms.model_form import ModelForm

    form = ModelForm(_Train, label="train")
    qtbot.addWidget(form)
    form.set_values({"max_steps": -5, "learning_rate": "abc"})
    assert form.errors() == {"max_steps": "Max steps must be at least 1",
                             "learning_rate": "Learning rate must be a number"}
    assert form.rows["max_steps"].error.text() == "Max steps must be at least 1"
    assert form.error_lines() == ["Max steps must be at least 1", "Learning rate must be a number"]
    assert not any("train." in line or "Input should" in line for line in form.error_lines())


def test_a_validators_own_words_are_kept_and_named_on_the_launch_line() -> None:
    from app.forms.plain_errors import error_line

    assert error_line("resolution", "must be a multiple of 8") == "Resolution must be a multiple of 8"
    assert error_line("", "give a dataset or a prompt") == "give a dataset or a prompt"
    assert error_line("seed", "too big") == "Seed: too big"
