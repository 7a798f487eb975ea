"""The generated form's hints: a field's range is written as `recipes NAME` and the sweep box write it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class _Settings(BaseModel):
    dropout: float = Field(0.1, ge=0, lt=1, description="Share of units dropped")
    learning_rate: float = Field(1e-4, gt=0)
    steps: int = Field(10, ge=1, le=1000)
    name: str = "x"


def test_a_fields_range_is_shown_as_the_interval_the_cli_and_sweep_box_show(qtbot) -> None:
    # The form wrote ">= 0 and < 1" beside `recipes NAME`'s and the sweep box's "[0, 1)": a third notation.
    from app.forms.model_form import ModelForm
    from spark_trainer.recipes.registry import describe_fields, interval_text

    form = ModelForm(_Settings)
    qtbot.addWidget(form)
    tips = {name: row.widget.toolTip() for name, row in form.rows.items()}
    assert tips["dropout"] == "Share of units dropped\nAllowed: [0, 1)"
    assert tips["learning_rate"] == "Allowed: (0, inf)"
    assert tips["steps"] == "Allowed: [1, 1000]"
    assert tips["name"] == ""
    described = {d["name"]: d for d in describe_fields(_Settings)}
    assert all(f"Allowed: {interval_text(described[n])}" in tips[n] for n in ("dropout", "learning_rate", "steps"))
