"""Image + caption pairs for diffusion-lora as users have them: phone photos, captions from sidecars."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.ingest import ingest_paths
from spark_trainer.recipes.diffusion_data import (
    CaptionedImage,
    assign_buckets,
    check_decodes,
    load_pixels,
    read_pairs,
    upscaled,
)
from spark_trainer.store import projects
from tests.ingest.media import write_phone_photo


def test_a_portrait_phone_photo_gets_a_portrait_bucket_and_trains_upright(store, tmp_path: Path) -> None:
    photo = write_phone_photo(tmp_path / "shoot" / "IMG_0001.JPG", (96, 48))
    photo.with_suffix(".txt").write_text("a red hat\n")
    projects.create(store, "p")
    dataset = ingest_paths(store, [tmp_path / "shoot"], project="p").dataset
    check = check_decodes(read_pairs(Path(dataset.path), "error"))
    (item,) = assign_buckets(check.items, 32, 8, "buckets")
    assert item.size == (48, 96)
    assert item.bucket[1] > item.bucket[0]  # taller than wide, as the photo is seen
    pixels = load_pixels(item)  # (3, H, W) in [-1, 1]
    assert float(pixels[0, 2, pixels.shape[2] // 2]) > 0.8  # the top row is red
    assert float(pixels[0, -2, pixels.shape[2] // 2]) < -0.8  # the bottom row is black


def test_images_much_smaller_than_the_training_size_are_named_in_the_runs_log(tmp_path: Path) -> None:
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.recipes.diffusion_lora_impl import DiffusionLoRARecipe

    items = [CaptionedImage(tmp_path / "icon.png", "an icon", "set/icon.png", "train", (64, 64)),
             CaptionedImage(tmp_path / "photo.jpg", "a photo", "set/photo.jpg", "train", (600, 400))]
    bucketed = assign_buckets(items, 512, 64, "center")
    assert [i.source for i in upscaled(bucketed)] == ["set/icon.png"]
    recipe = DiffusionLoRARecipe(ExperimentConfig.model_validate({
        "name": "t", "recipe": "diffusion-lora", "base_model": "m", "dataset": "d",
        "recipe_config": {"resolution": 512, "cache_latents": False}}))
    recipe.train_data = bucketed
    assert ("1 images are at most half the training size and are enlarged to it, which blurs them (first: "
            "set/icon.png, 64x64 trained at 512x512); lower recipe_config.resolution or use larger images"
            ) in recipe.log_notes()


def test_skipping_images_without_captions_when_none_has_one_is_refused_at_submit(store, tmp_path: Path) -> None:
    """missing_captions: skip on images none of which has a caption passed submit's check and failed
    in the worker ("no image left to train on"); the setup form's rule refuses it, so does the check."""
    import pytest
    from PIL import Image

    from spark_trainer.errors import BadInput

    (tmp_path / "bare").mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (80 * i, 20, 20)).save(tmp_path / "bare" / f"{i}.png")
    projects.create(store, "p")
    dataset = ingest_paths(store, [tmp_path / "bare"], project="p").dataset
    with pytest.raises(BadInput, match="none of its 3 images has a caption, so missing_captions: skip leaves "
                                       "nothing to train on; add a name.txt caption beside each image"):
        read_pairs(Path(dataset.path), "skip")
    assert len(read_pairs(Path(dataset.path), "empty").items) == 3


def test_text_rows_without_a_caption_column_train_uncaptioned_only_when_the_settings_allow_it(tmp_path: Path) -> None:
    """Rows of image paths with no caption column: the setup form's rule offers them with
    missing_captions: empty, so the full check must agree (it refused every mode for the missing column);
    with error (the default) the column is still required, naming the columns found."""
    import pytest
    from PIL import Image

    from spark_trainer.errors import BadInput

    for i in range(3):
        Image.new("RGB", (40, 40), (80 * i, 20, 20)).save(tmp_path / f"{i}.png")
    rows = tmp_path / "pairs.csv"
    rows.write_text("path,notes\n" + "".join(f"{i}.png,n{i}\n" for i in range(3)))
    found = read_pairs(rows, "empty")
    assert sorted(item.path.name for item in found.items) == ["0.png", "1.png", "2.png"]
    assert {item.caption for item in found.items} == {""}
    with pytest.raises(BadInput, match="caption_column 'caption'"):
        read_pairs(rows, "error")


def test_a_manifest_line_that_is_not_a_json_object_is_refused_by_its_number(store, tmp_path: Path) -> None:
    """It was counted among "rows of other kinds" and skipped, unsaid, while the dataset's counts said
    the manifest could not be read."""
    import pytest

    from spark_trainer.errors import BadInput
    from tests.app.gui_assets import write_image_folder

    projects.create(store, "p")
    dataset = ingest_paths(store, [write_image_folder(tmp_path / "shapes", per_class=2)], project="p").dataset
    manifest = Path(dataset.path) / "manifest.jsonl"
    manifest.write_text(manifest.read_text() + "[1, 2]\n")
    with pytest.raises(BadInput, match=r"manifest.jsonl: line 5 is not a JSON object$"):
        read_pairs(Path(dataset.path), "empty")
