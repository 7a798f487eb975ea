"""Image + caption pairs for diffusion training: reading, checking, cropping and bucketing.

The pairs come from an ingested image dataset (`manifest.jsonl` rows with a `path` and a
`caption`), which is what drag-and-drop of images with `.txt` sidecars, a folder with a
`metadata.jsonl`, and the video wizard all produce; or from text rows (a CSV/JSONL, ingested or
not) naming an image and its caption, read as image-classification reads its rows (`image_rows`). Images are decoded with Pillow (no
torchvision): resized to cover the target size, then centre-cropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.images import decode_problem, open_rgb
from spark_trainer.ingest.detect import IMAGE_EXTS
from spark_trainer.manifest_fields import is_filled
from spark_trainer.recipes import image_rows
from spark_trainer.training.data import manifest_objects


@dataclass(frozen=True)
class CaptionedImage:
    path: Path
    caption: str
    source: str  # what the user knows the image as (the manifest's `source`, else its path)
    split: str  # "train" or "val"
    size: tuple[int, int] = (0, 0)  # (width, height), filled in once decoded
    bucket: tuple[int, int] = (0, 0)  # (width, height) the image is cropped to


@dataclass
class DataCheck:
    """What reading the dataset found; `skipped` go into the run's report, never into training."""

    items: list[CaptionedImage]
    skipped: list[dict[str, str]]  # {"path", "source", "reason"}
    missing_captions: list[str]


def read_pairs(data_path: Path, missing_captions: str, *, image_column: str = "path",
               caption_column: str = "caption", val_fraction: float = 0.0) -> DataCheck:
    """Image + caption rows of an ingested image dataset folder, or of text rows naming images.

    Args:
        data_path: the dataset folder (with manifest.jsonl), or a CSV/JSONL file of text rows.
        missing_captions: "error" (refuse, naming the images), "empty" (train them with an empty
            caption, i.e. unconditionally) or "skip" (leave them out and list them).
        image_column, caption_column: the fields of text rows holding the image path and the caption.
        val_fraction: the validation share of a CSV/JSONL file's rows (ingested rows keep their split).

    Raises:
        BadInput: no manifest, no image rows, a text row without the columns (naming the columns
            found), captions missing with "error" (naming the images or lines), or nothing left to
            train on with "skip".
    """
    data_path = Path(data_path)
    skipped: list[dict[str, str]] = []
    if image_rows.holds_text_rows(data_path):
        found = _text_pairs(data_path, image_column, caption_column, val_fraction, skipped,
                            require_captions=missing_captions == "error")
        add = f"fill in {caption_column!r} on those rows"
    else:
        found = _image_pairs(data_path)
        add = "add a name.txt caption beside each image"
    items: list[CaptionedImage] = []
    missing: list[str] = []
    for item in found:
        if item.caption:
            items.append(item)
            continue
        missing.append(item.source)
        if missing_captions == "skip":
            skipped.append({"path": str(item.path), "source": item.source, "reason": "no caption"})
        elif missing_captions == "empty":
            items.append(item)
    if missing and missing_captions == "error":
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise BadInput(f"{len(missing)} of {len(found)} images have no caption: {shown}; {add}, or set "
                       "recipe_config.missing_captions to empty or skip")
    if not items and missing:
        raise BadInput(f"dataset {data_path}: none of its {len(found)} images has a caption, so "
                       f"missing_captions: skip leaves nothing to train on; {add}, or set "
                       "recipe_config.missing_captions to empty")
    return DataCheck(items, skipped, missing)


def _image_pairs(data_path: Path) -> list[CaptionedImage]:
    """The rows of an ingested image dataset (captions as found, possibly empty)."""
    manifest = data_path / "manifest.jsonl"
    if not manifest.is_file():
        raise BadInput(f"dataset folder {data_path} has no manifest.jsonl")
    found: list[CaptionedImage] = []
    other_kinds = 0
    for _number, row in manifest_objects(manifest):  # a line not JSON, or not an object, refused by number
        raw_path = row.get("path")
        if not isinstance(raw_path, str) or Path(raw_path).suffix.lower() not in IMAGE_EXTS:
            other_kinds += 1
            continue
        path = Path(raw_path) if Path(raw_path).is_absolute() else data_path / raw_path
        caption = row.get("caption")
        found.append(CaptionedImage(path, caption.strip() if isinstance(caption, str) else "",
                                    str(row.get("source") or raw_path),
                                    "val" if row.get("split") == "val" else "train"))
    if not found:
        what = f"{other_kinds} rows, none of them an image" if other_kinds else "no rows"
        raise BadInput(f"dataset {data_path} has {what}; diffusion-lora trains on images with captions "
                       "(an image dataset: images with .txt captions, a metadata.jsonl, or the video wizard; "
                       "or text rows of image paths and captions)")
    return found


def _text_pairs(data_path: Path, image_column: str, caption_column: str, val_fraction: float,
                skipped: list[dict[str, str]], *, require_captions: bool) -> list[CaptionedImage]:
    """Text rows naming an image and its caption; a row with an empty image path goes to `skipped`.
    The caption column must exist only where captions are required (missing_captions: error): with
    empty or skip a row without it is an image without a caption, as the fit rule says."""
    rows, base = image_rows.read_text_rows(data_path, val_fraction)
    columns = {"image_column": image_column, **({"caption_column": caption_column} if require_captions else {})}
    image_rows.require_columns(rows, data_path, columns)
    found = []
    for row in rows:
        raw = row.record[image_column]
        if not is_filled(raw):
            skipped.append({"path": "", "source": row.source, "reason": f"no image path in {image_column!r}"})
            continue
        caption = row.record.get(caption_column)
        text = str(caption).strip() if is_filled(caption) and isinstance(caption, (str, int, float)) else ""
        found.append(CaptionedImage(Path(image_rows.image_path(base, raw)), text, row.source, row.split))
    if not found:
        raise BadInput(f"dataset {data_path}: none of its {len(rows)} rows names an image in {image_column!r} "
                       "(recipe_config.image_column)")
    return found


def check_decodes(check: DataCheck) -> DataCheck:
    """Decode every image once; a missing or undecodable one moves to `skipped` with the reason.
    Sizes are recorded (upright: images are bucketed by the shape the model sees)."""
    kept = []
    for item in check.items:
        size, problem = decode_problem(item.path)
        if problem:
            check.skipped.append({"path": str(item.path), "source": item.source, "reason": problem})
            continue
        kept.append(CaptionedImage(item.path, item.caption, item.source, item.split, size))
    return DataCheck(kept, check.skipped, check.missing_captions)


def aspect_buckets(resolution: int, multiple: int, max_ratio: float = 2.0) -> list[tuple[int, int]]:
    """(width, height) pairs of about resolution² pixels, sides multiples of `multiple`, from 1:max_ratio
    to max_ratio:1 (the square is always one)."""
    buckets = {(resolution, resolution)}
    area = resolution * resolution
    width = multiple
    while width <= resolution * max_ratio:
        height = max(multiple, int(area / width) // multiple * multiple)
        if 1 / max_ratio <= width / height <= max_ratio:
            buckets.add((width, height))
        width += multiple
    return sorted(buckets)


def assign_buckets(items: list[CaptionedImage], resolution: int, multiple: int,
                   mode: str) -> list[CaptionedImage]:
    """Each item with the size it is cropped to: the square `resolution`, or (buckets) the bucket
    whose aspect ratio is closest to the image's."""
    import math

    if mode == "center":
        return [_with_bucket(i, (resolution, resolution)) for i in items]
    options = aspect_buckets(resolution, multiple)
    out = []
    for item in items:
        w, h = item.size
        best = min(options, key=lambda b: abs(math.log(b[0] / b[1]) - math.log(w / h)))
        out.append(_with_bucket(item, best))
    return out


def upscaled(items: list[CaptionedImage], factor: float = 2.0) -> list[CaptionedImage]:
    """Items whose image is `factor` or more times smaller than the size it trains at (a side of the
    image under the bucket's side / factor): enlarged that much, they train the model on blur."""
    return [i for i in items if i.size[0] * factor <= i.bucket[0] or i.size[1] * factor <= i.bucket[1]]


def _with_bucket(item: CaptionedImage, bucket: tuple[int, int]) -> CaptionedImage:
    return CaptionedImage(item.path, item.caption, item.source, item.split, item.size, bucket)


def load_pixels(item: CaptionedImage, flip: bool = False) -> Any:
    """A float tensor (3, H, W) in [-1, 1]: resized to cover `item.bucket`, centre-cropped, optionally mirrored."""
    import numpy as np
    import torch
    from PIL import Image

    image = open_rgb(item.path)  # upright RGB, fully decoded: truncated files fail here
    tw, th = item.bucket
    scale = max(tw / image.width, th / image.height)
    rw, rh = max(tw, round(image.width * scale)), max(th, round(image.height * scale))
    if (rw, rh) != image.size:
        image = image.resize((rw, rh), Image.Resampling.BICUBIC)
    left, top = (rw - tw) // 2, (rh - th) // 2
    image = image.crop((left, top, left + tw, top + th))
    if flip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def bucket_batches(items: list[CaptionedImage], indices: list[int]) -> list[list[int]]:
    """`indices` grouped by bucket, keeping their order within each group."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i in indices:
        groups.setdefault(items[i].bucket, []).append(i)
    return list(groups.values())
