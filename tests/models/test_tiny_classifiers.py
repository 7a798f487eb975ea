"""The demos' tiny classifiers: built from configs, random weights, nothing downloaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_tiny_image_classifier_is_made_without_library_warnings(tmp_path: Path) -> None:
    # `demo --recipe image-classification` printed transformers' "`ViTImageProcessor` requires
    # torchvision (not installed); falling back to `ViTImageProcessorPil`..." to the user. A fresh
    # process, because transformers warns once per process.
    code = ("import sys; from spark_trainer.models.tiny_classifiers import create_tiny_image_classifier; "
            "create_tiny_image_classifier(sys.argv[1])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "vit")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "torchvision" not in done.stderr
    saved = json.loads((tmp_path / "vit" / "preprocessor_config.json").read_text())
    assert saved["size"] == {"height": 32, "width": 32}
    from transformers import AutoImageProcessor

    processor = AutoImageProcessor.from_pretrained(tmp_path / "vit", local_files_only=True)
    assert list(processor.image_mean) == [0.5, 0.5, 0.5]
