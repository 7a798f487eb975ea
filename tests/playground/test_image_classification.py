"""`spark-trainer generate --image` on an image-classification run: every class with its probability,
the same answer the run's final model gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.cli.main import main
from spark_trainer.store.store import Store
from tests.export.conftest import train_in_store

pytestmark = pytest.mark.timeout(1800)


def test_image_labels_with_probabilities_match_the_final_model(tmp_path: Path, capsys) -> None:
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from spark_trainer.jobs.demo_recipes import image_classification_demo

    home = tmp_path / "home"
    with Store.open(home) as store:
        _model, data, config = image_classification_demo(store, steps=8)
        run, _ = train_in_store(store, config.model_copy(update={"gpus": "cpu"}))
    classes = sorted(p.name for p in data.iterdir() if p.is_dir())
    image_path = data / classes[0] / "000.png"

    capsys.readouterr()
    code = main(["--home", str(home), "generate", str(run.id), "--image", str(image_path), "--device", "cpu",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    probs = [item["probability"] for item in result["labels"]]
    assert sorted(item["label"] for item in result["labels"]) == classes
    assert abs(sum(probs) - 1) < 1e-3 and probs == sorted(probs, reverse=True)

    final = Path(run.run_dir) / "final"
    model = AutoModelForImageClassification.from_pretrained(final).eval()
    inputs = AutoImageProcessor.from_pretrained(final)(images=[Image.open(image_path).convert("RGB")],
                                                       return_tensors="pt")
    with torch.no_grad():
        expected = torch.softmax(model(**inputs).logits[0], -1)
    assert result["labels"][0]["label"] == model.config.id2label[int(expected.argmax())]
    assert abs(result["labels"][0]["probability"] - float(expected.max())) < 1e-3

    code = main(["--home", str(home), "generate", str(run.id), "--prompt", "a red square"])
    assert code == 2 and "--image" in capsys.readouterr().err

    # A folder given as the image (a class folder of the dataset, say) is named as a folder, not as missing.
    code = main(["--home", str(home), "generate", str(run.id), "--image", str(data / classes[0])])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is a folder" in err and "does not exist" not in err, err
    code = main(["--home", str(home), "generate", str(run.id), "--image", str(data / "missing.png")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.png does not exist" in err, err
