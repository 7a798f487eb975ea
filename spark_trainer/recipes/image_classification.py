"""Image classification: any Hugging Face image classifier (ViT, ResNet, ConvNeXt...) re-headed for
the dataset's classes. Labels come from class sub-folders (what dropping a folder of class folders
gives) or from a manifest with image paths and labels. This module declares the config; the
implementation is imported only to train."""

from __future__ import annotations

from pydantic import Field

from spark_trainer.recipes.classification import CLASSIFICATION_METRICS, ClassifierTuning
from spark_trainer.recipes.fit import DataFacts, missing_field, needs_image_model, unfilled_field
from spark_trainer.recipes.registry import RecipeSpec


class ImageClassificationConfig(ClassifierTuning):
    image_column: str = Field("path", min_length=1, description="For manifests: the field holding the image path "
                              "(relative paths are relative to the manifest's folder)")
    label_column: str = Field("label", min_length=1, description="The field holding the label (ingested image "
                              "folders: the class sub-folder name)")
    augment: bool = Field(True, description="Random resized crop and horizontal flip while training")
    crop_scale_min: float = Field(0.6, gt=0, le=1, description="Smallest share of the image a random crop keeps")
    hflip: bool = Field(True, description="Flip training images left-right at random (off for text or digits)")
    num_workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes that decode and augment images")


def data_fit(facts: DataFacts, settings: ImageClassificationConfig) -> str | None:
    """Labelled images (class sub-folders), or text rows (a manifest) with an image path and a label:
    every image needs a label (the full data check refuses the first one without)."""
    folders = "put each class's images in a sub-folder named after the class and ingest the parent folder"
    if facts.kind == "image":
        short = facts.short_of("label", "image", "a label")
        return f"{short}; {folders}" if short else None
    return (missing_field(facts, "image_column", settings.image_column)
            or missing_field(facts, "label_column", settings.label_column)
            or unfilled_field(facts, "label_column", settings.label_column,
                              "image-classification needs a label on every row"))


RECIPE = RecipeSpec(
    name="image-classification",
    title="Image classification",
    description="Sort images into classes (from class sub-folders or a manifest) with any Hugging Face image "
    "classifier, re-headed for your classes; LoRA or full fine-tuning, light augmentation.",
    config_model=ImageClassificationConfig,
    data_kinds=("image", "text"),
    implementation="spark_trainer.recipes.image_classification_impl:ImageClassificationRecipe",
    tags=("image", "classification"),
    metrics=CLASSIFICATION_METRICS,
    unit="images",
    frozen_defaults=(("label_names", "as-written"),),
    data_fit=data_fit,
    model_fit=needs_image_model,
)
