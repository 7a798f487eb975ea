"""Reading a run's sample files: what `run samples`, the Samples tab and Compare show of each."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.jobs.run_samples import read_sample


def test_a_saved_comparison_shows_the_base_models_answer_too(tmp_path: Path) -> None:
    # `generate RUN --compare --save` (and the Playground's Save as sample after a comparison) keeps both.
    path = tmp_path / "playground-1.json"
    path.write_text(json.dumps({"step": 300, "source": "playground", "samples": [
        {"prompt": "Count up", "variant": "tuned", "completion": "3 4 5", "base_completion": "x y"}]}))
    item = read_sample(path, 300).items[0]
    assert item.prompt == "Count up"
    assert item.output.splitlines() == ["3 4 5", "(base model) x y"]


def test_a_plain_sample_is_its_completion(tmp_path: Path) -> None:
    path = tmp_path / "step-00000010.json"
    path.write_text(json.dumps({"samples": [{"prompt": "p", "completion": "c"}]}))
    assert read_sample(path, 10).items[0].output == "c"


def test_a_samples_text_keeps_its_prompts_and_captions(tmp_path: Path) -> None:
    # `compare --samples` showed outputs alone: an image's caption and the text a classifier was given were lost.
    from spark_trainer.jobs.run_samples import sample_text

    path = tmp_path / "step-00000010.json"
    path.write_text(json.dumps({"samples": [
        {"prompt": "cat.png", "caption": "predicted cat (0.88); true dog", "image": "step-00000010-00.png"},
        {"prompt": "the match ended two all", "completion": "predicted: sports (0.91); true: sports"}]}))
    assert sample_text(read_sample(path, 10)).splitlines() == [
        "[image step-00000010-00.png] cat.png", "predicted cat (0.88); true dog", "",
        "> the match ended two all", "predicted: sports (0.91); true: sports"]
