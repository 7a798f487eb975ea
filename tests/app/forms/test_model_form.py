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


def test_a_prompt_template_keeps_its_line_breaks_from_the_form_to_the_run_file(qtbot) -> None:
    # The Alpaca-style prompt_template is lines ("### Instruction:\n{instruction}\n\n### Response:\n"), but the
    # form gave every text field a one-line edit: a line break could not be typed there, and one from a
    # cloned run came back stripped of its final line break (the one the answer starts after), so the clone
    # would train on another prompt.
    from PySide6.QtWidgets import QPlainTextEdit

    from app.forms.model_form import ModelForm
    from spark_trainer.recipes import get_recipe

    model = get_recipe("causal-lm").config_model
    template = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    form = ModelForm(model, {"format": "alpaca", "prompt_template": template})
    qtbot.addWidget(form)
    for name in ("prompt_template", "prompt_template_no_input", "chat_template"):
        assert isinstance(form.rows[name].widget, QPlainTextEdit), name
    values = form.values()
    assert values["prompt_template"] == template  # the trailing line break too: the answer starts after it
    assert values["prompt_template_no_input"] is None and values["chat_template"] is None  # empty: the default
    assert not form.errors()
    assert form.rows["prompt_template_no_input"].widget.placeholderText() == "empty: prompt template"
    assert model(**values).prompt_template == template
    form.rows["prompt_template"].widget.setPlainText("no placeholders\n")
    assert "prompt_template" in form.errors()  # still checked by the model, as every field is


def test_the_causal_lm_forms_eval_cap_says_what_empty_means_and_empty_is_every_example(qtbot) -> None:
    # An empty number field said "none"; for eval_max_rows empty is not "no rows" but every one.
    from app.forms.model_form import ModelForm
    from spark_trainer.recipes import get_recipe

    model = get_recipe("causal-lm").config_model
    form = ModelForm(model)
    qtbot.addWidget(form)
    edit = form.rows["eval_max_rows"].widget
    assert edit.text() == "2000" and form.values()["eval_max_rows"] == 2000
    edit.setText("")
    assert edit.placeholderText() == "empty: every validation example"
    assert form.values()["eval_max_rows"] is None and not form.errors()
    edit.setText("0")
    assert "eval_max_rows" in form.errors()


def test_a_diffusion_resolution_the_pipeline_cannot_make_is_marked_at_its_field(qtbot) -> None:
    """Resolution 33 passed the form and was refused only by Launch, in a banner at the top."""
    from app.forms.model_form import ModelForm
    from spark_trainer.recipes.diffusion_lora import DiffusionLoRAConfig

    form = ModelForm(DiffusionLoRAConfig, label="recipe_config")
    qtbot.addWidget(form)
    form.set_values({"resolution": 33})
    assert form.validate() is None
    assert form.errors() == {"resolution": "must be a multiple of 8 (a diffusion pipeline makes images of sides "
                                           "divisible by 8); try 32"}
    form.set_values({"resolution": 32})
    assert form.validate() is not None and form.errors() == {}
