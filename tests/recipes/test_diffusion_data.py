"""Image + caption pairs for diffusion-lora as users have them: phone photos, captions from sidecars."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.ingest import ingest_paths
from spark_trainer.recipes.diffusion_data import assign_buckets, check_decodes, load_pixels, read_pairs
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
