"""Text classification: a fresh sequence-classification head on any encoder or decoder, trained on
rows with a text column and a label column (CSV, TSV, JSONL or Parquet, ingested as text).
This module declares the config; the implementation is imported only to train."""

from __future__ import annotations

from pydantic import Field

from spark_trainer.recipes.classification import CLASSIFICATION_METRICS, ClassifierTuning
from spark_trainer.recipes.fit import DataFacts, missing_field, needs_text_model, unfilled_field
from spark_trainer.recipes.registry import RecipeSpec


class TextClassificationConfig(ClassifierTuning):
    text_column: str = Field("text", min_length=1, description="Column (field) holding the text")
    label_column: str = Field("label", min_length=1, description="Column (field) holding the label (text or integer)")
    max_length: int = Field(256, ge=8, le=32_768, description="Tokens kept per text (longer texts are truncated)")
    sample_texts: list[str] = Field(
        default_factory=list, description="Texts whose predicted labels are logged as samples every "
        "eval.samples_every_steps (empty: the first validation texts)")


def data_fit(facts: DataFacts, settings: TextClassificationConfig) -> str | None:
    """Rows with the text column and the label column the settings name, a label on every row."""
    return (missing_field(facts, "text_column", settings.text_column)
            or missing_field(facts, "label_column", settings.label_column)
            or unfilled_field(facts, "label_column", settings.label_column,
                              "text-classification needs a label on every row"))


RECIPE = RecipeSpec(
    name="text-classification",
    title="Text classification",
    description="Classify texts (support tickets, reviews...) from a table with a text and a label column; "
    "a new classification head on any encoder or decoder, LoRA or full fine-tuning.",
    config_model=TextClassificationConfig,
    data_kinds=("text",),
    implementation="spark_trainer.recipes.text_classification_impl:TextClassificationRecipe",
    tags=("text", "classification"),
    metrics=CLASSIFICATION_METRICS,
    unit="examples",
    moved_fields=(("eval.sample_prompts", "sample_texts"),),
    frozen_defaults=(("label_names", "as-written"),),
    data_fit=data_fit,
    model_fit=needs_text_model,
)
