"""Every demo's sample data is free of duplicates: the first dataset a new user sees must not report
"Duplicates 227" (the causal-LM sample shipped 360 lines of which 133 were unique)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from spark_trainer.ingest import ingest_paths
from spark_trainer.jobs.demo import demo_data_dir
from spark_trainer.jobs.demo_diffusion import ensure_demo_images
from spark_trainer.jobs.demo_recipes import image_classification_demo, text_classification_demo
from spark_trainer.store import projects
from spark_trainer.store.store import Store


def _causal_lm(store: Store) -> tuple[Path, int]:
    return demo_data_dir() / "train.jsonl", 133


def _text_classification(store: Store) -> tuple[Path, int]:
    return text_classification_demo(store, None)[1], 240


def _image_classification(store: Store) -> tuple[Path, int]:
    return image_classification_demo(store, None)[1], 60


def _diffusion(store: Store) -> tuple[Path, int]:
    return ensure_demo_images(store), 24


@pytest.mark.parametrize("make", [_causal_lm, _text_classification, _image_classification, _diffusion],
                         ids=["causal-lm", "text-classification", "image-classification", "diffusion-lora"])
def test_demo_data_has_no_duplicates(store: Store, make: Callable[[Store], tuple[Path, int]]) -> None:
    projects.create(store, "demo")
    data, size = make(store)
    report = ingest_paths(store, [data], project="demo").report
    assert report.num_duplicates == 0, f"{report.num_duplicates} duplicates in {data}"
    assert report.accepted == size and report.num_rejected == 0
