"""An image-classification run exported merged loads with `pipeline("image-classification")`, carries
the class names, and predicts what the run's own final model predicts."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.cli.main import main
from spark_trainer.store.store import Store
from tests.export.conftest import train_in_store


def test_merged_image_classifier_export_predicts_like_the_final_model(tmp_path, capsys) -> None:
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline

    from spark_trainer.jobs.demo_recipes import image_classification_demo

    home = tmp_path / "home"
    with Store.open(home) as store:
        _model, data, config = image_classification_demo(store, steps=6)
        config = config.model_copy(update={"gpus": "cpu"})
        run, _outcome = train_in_store(store, config)
    final = Path(run.run_dir) / "final"

    capsys.readouterr()
    assert main(["--home", str(home), "export", str(run.id), "--merge", "--dtype", "fp32", "--json"]) == 0
    folder = Path(json.loads(capsys.readouterr().out)["export"]["path"])
    card = (folder / "README.md").read_text()
    assert "pipeline_tag: image-classification" in card

    images = [Image.open(p).convert("RGB") for p in sorted(data.glob("*/00[0-2].png"))]
    classes = {p.name for p in data.iterdir() if p.is_dir()}

    def predictions(source: Path) -> list[str]:
        processor = AutoImageProcessor.from_pretrained(source)
        model = AutoModelForImageClassification.from_pretrained(source).eval()
        with torch.no_grad():
            logits = model(**processor(images=images, return_tensors="pt")).logits
        return [model.config.id2label[int(i)] for i in logits.argmax(-1)]

    exported = predictions(folder)
    assert exported == predictions(final)
    assert set(exported) <= classes  # class names, not LABEL_0
    classify = pipeline("image-classification", model=str(folder))
    assert [top[0]["label"] for top in classify(images)] == exported
