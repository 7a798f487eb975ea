"""Images as a viewer shows them: upright (the EXIF orientation applied) and in 8-bit RGB.

Photos from phones and cameras store the pixels sideways with an EXIF orientation tag; a viewer
turns them, and so must training. Other modes need care too: Pillow's plain `convert("RGB")` clips
a 16-bit greyscale PNG to white and shows the colour hidden under transparent pixels (often black).
Every place that decodes a user's image for training, evaluation or the playground goes through
`open_rgb`; ingestion records `upright_size`. Ingestion and the image recipes check that an image
is whole with `decode_problem`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ORIENTATION_TAG = 0x0112
SWAPPED_ORIENTATIONS = (5, 6, 7, 8)  # turned a quarter: width and height trade places
SHRINKABLE = ("RGB", "RGBA", "L", "LA")  # modes Pillow shrinks as they are (transparency kept for to_rgb)
BACKGROUND = (255, 255, 255)  # what transparent pixels become: the page a viewer shows them on


def orientation(image: Any) -> int:
    """The EXIF orientation (1 = upright), from the header alone; 1 when there is none or it is unreadable."""
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except (OSError, ValueError, SyntaxError):  # a corrupt EXIF block is not a reason to refuse the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright_size(image: Any) -> tuple[int, int]:
    """(width, height) as a viewer shows the opened image, without decoding its pixels."""
    width, height = image.size
    return (height, width) if orientation(image) in SWAPPED_ORIENTATIONS else (width, height)


def to_rgb(image: Any) -> Any:
    """An opened PIL image as a new upright 8-bit RGB image (transparency over white)."""
    from PIL import Image, ImageOps

    if orientation(image) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        image = _to_8bit(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def open_rgb(path: str | Path, longest: int | None = None) -> Any:
    """The image file at `path`, fully decoded, upright, in 8-bit RGB (the first frame of an animation);
    with `longest`, shrunk to fit a square of that side (a JPEG is decoded small to begin with).

    Raises:
        OSError: the file does not decode, or is larger than Pillow opens (its DecompressionBombError
            is not an OSError, so callers that name an unreadable image in one line met a traceback).
    """
    from PIL import Image

    try:
        with pillow_quiet(), Image.open(path) as image:
            if longest:
                image.draft("RGB", (longest, longest))
            image.load()
            if longest and image.mode in SHRINKABLE:  # shrink before converting: a 96 Mpx scan's copies are large
                image.thumbnail((longest, longest))
            rgb = to_rgb(image)
    except Image.DecompressionBombError:
        raise OSError(too_large()) from None
    if longest:
        rgb.thumbnail((longest, longest))
    return rgb


def too_large() -> str:
    """Why an image past Pillow's hard limit (twice MAX_IMAGE_PIXELS) is refused."""
    from PIL import Image

    return f"image too large: over {2 * Image.MAX_IMAGE_PIXELS:,} pixels, more than Pillow opens"


def decode_problem(path: str | Path, *, quick: bool = False, verify: bool = False,
                   max_pixels: int | None = None) -> tuple[tuple[int, int], str]:
    """((width, height) as a viewer shows it, "") once every byte of the image at `path` decoded, else
    (the size or (0, 0), why not): no such file, a folder, too large, or not an image Pillow decodes.
    Ingestion's gate and the image recipes' preparation both ask this, so they refuse alike.

    `quick`: decoding is the check that the file is whole (truncated or corrupt data fails), not a need
    for the pixels: a JPEG is decoded at an eighth of its size, in grey, which reads every byte of it
    but spends a 64th of the memory (a 24-megapixel photo: 1 MB, not 72 MB). Other formats decode in
    full. `verify`: Pillow's structural check first (chunk checksums). `max_pixels`: a larger image is
    refused from its header, before decoding.
    """
    from PIL import Image, UnidentifiedImageError

    target = Path(path)
    if not target.exists():
        return (0, 0), "no such file"
    if target.is_dir():
        return (0, 0), "is a folder, not an image"
    try:
        if verify:
            with pillow_quiet(), Image.open(target) as image:
                image.verify()
        with pillow_quiet(), Image.open(target) as image:  # verify() spends the image; load() catches truncation
            width, height = upright_size(image)  # from the header: a phone photo's pixels lie sideways under an EXIF turn
            if max_pixels is not None and width * height > max_pixels:
                return (width, height), (f"image too large: {width}x{height} pixels; the limit is "
                                         f"{max_pixels:,} pixels")
            if quick:
                image.draft("L", (1, 1))
            image.load()
    except Image.DecompressionBombError:
        return (0, 0), too_large()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return (0, 0), f"undecodable image: {exc or type(exc).__name__}"
    return (width, height), ""


@contextmanager
def pillow_quiet() -> Iterator[None]:
    """Silence two Pillow warnings that only alarm users, each a line with a path inside Pillow on
    stderr and in training logs: DecompressionBombWarning (over ~89 M pixels; ingestion has its own size
    gate, IngestOptions.max_image_pixels, and says what it refused; Pillow's hard limit, twice that,
    still raises DecompressionBombError) and "Corrupt EXIF data" (an editor's damaged EXIF block: the
    image decodes whole, and `orientation` takes it as upright)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", message=r"(Possibly )?corrupt EXIF", category=UserWarning)
        yield


def _to_8bit(image: Any) -> Any:
    """A 16-bit or 32-bit greyscale image scaled into 0..255 (Pillow's own conversion clips it)."""
    import numpy as np
    from PIL import Image

    array = np.asarray(image).astype(np.float64)
    peak = float(array.max(initial=0))
    if image.mode.startswith("I;16") or peak > 255:
        top = 65535.0
    elif image.mode == "F" and peak <= 1.0:
        top = 1.0  # floats in 0..1
    else:
        top = 255.0  # 8-bit values stored wider
    return Image.fromarray(np.clip(np.rint(array * (255.0 / top)), 0, 255).astype(np.uint8))
