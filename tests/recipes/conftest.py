"""Fixtures: tiny classifiers built from configs (random weights), made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recipes.helpers import TOPICS


@pytest.fixture(scope="session")
def tiny_text_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier

    return create_tiny_text_classifier(tmp_path_factory.mktemp("models") / "tiny-bert", corpus=list(TOPICS.values()))


@pytest.fixture(scope="session")
def tiny_image_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny_classifiers import create_tiny_image_classifier

    # Five labels in the checkpoint's head; the datasets have three classes, so the head is replaced.
    return create_tiny_image_classifier(tmp_path_factory.mktemp("models") / "tiny-vit", num_labels=5)
