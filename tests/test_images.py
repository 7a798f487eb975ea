"""Decoding a user's images as a viewer shows them: upright, 8-bit RGB, transparency over white."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spark_trainer.images import open_rgb, upright_size
from tests.ingest.media import write_phone_photo


def test_an_exif_rotated_photo_is_decoded_upright(tmp_path: Path) -> None:
    path = write_phone_photo(tmp_path / "IMG_0001.JPG", (40, 20))
    with Image.open(path) as image:
        assert image.size == (40, 20) and upright_size(image) == (20, 40)
    rgb = np.asarray(open_rgb(path)).astype(int)
    assert rgb.shape == (40, 20, 3)
    assert rgb[5, 10, 0] > 200  # top: red
    assert rgb[35, 10].max() < 60  # bottom: black


def test_a_16_bit_greyscale_png_keeps_its_shades(tmp_path: Path) -> None:
    ramp = np.tile(np.array([0, 16384, 40000, 65535], dtype=np.uint16), (8, 8))
    Image.fromarray(ramp).save(tmp_path / "scan.png")
    with Image.open(tmp_path / "scan.png") as image:
        assert image.mode.startswith("I")
    rgb = np.asarray(open_rgb(tmp_path / "scan.png"))
    assert rgb.dtype == np.uint8 and rgb.shape == (8, 32, 3)
    assert list(rgb[0, :4, 0]) == [0, 64, 156, 255]  # Pillow's convert("RGB") makes all but black 255


def test_transparent_pixels_become_the_white_a_viewer_shows(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # a logo's transparent margin, black underneath
    rgba.paste((200, 0, 0, 255), (0, 0, 4, 8))
    rgba.save(tmp_path / "logo.png")
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    palette.paste(1, (4, 0, 8, 8))
    palette.save(tmp_path / "icon.png", transparency=0)
    for name, opaque in (("logo.png", (200, 0, 0)), ("icon.png", (0, 200, 0))):
        rgb = open_rgb(tmp_path / name)
        assert rgb.mode == "RGB"
        assert rgb.getpixel((0, 0) if name == "icon.png" else (6, 0)) == (255, 255, 255)
        assert rgb.getpixel((6, 0) if name == "icon.png" else (0, 0)) == opaque


def test_other_modes_come_out_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "print.jpg")
    Image.new("L", (8, 8), 100).save(tmp_path / "grey.png")
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert open_rgb(tmp_path / "grey.png").getpixel((0, 0)) == (100, 100, 100)
    r, g, b = open_rgb(tmp_path / "print.jpg").getpixel((4, 4))
    assert r > 200 and g < 60 and b < 60
    assert open_rgb(tmp_path / "anim.gif").getpixel((0, 0)) == (255, 0, 0)  # the first frame


def test_ingestion_and_training_refuse_a_broken_image_alike(tmp_path: Path) -> None:
    """Ingestion's gate and the image recipes' preparation had a copy each of this check."""
    from spark_trainer.images import decode_problem

    whole = tmp_path / "whole.jpg"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    (tmp_path / "fake.png").write_text("not an image")
    for quick in (False, True):
        assert decode_problem(whole, quick=quick) == ((64, 48), "")
        assert decode_problem(cut, quick=quick)[1].startswith("undecodable image: ")  # a draft still reads every byte
    assert decode_problem(tmp_path / "fake.png", verify=True)[1].startswith("undecodable image: ")
    assert decode_problem(tmp_path / "gone.png") == ((0, 0), "no such file")
    assert decode_problem(tmp_path) == ((0, 0), "is a folder, not an image")
    assert decode_problem(whole, max_pixels=1000) == ((64, 48), "image too large: 64x48 pixels; the limit is 1,000 pixels")


def test_an_image_past_pillows_limit_is_an_unreadable_image_with_its_size(tmp_path: Path, monkeypatch) -> None:
    """Pillow's DecompressionBombError is not an OSError: the Playground (`generate --image`) and
    evaluation, which turn an unreadable image into one line, ended with its traceback instead."""
    Image.new("RGB", (64, 48), (10, 200, 30)).save(tmp_path / "scan.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 3,072 pixels: past twice the limit, as a 200 Mpx scan is
    with pytest.raises(OSError, match=r"^image too large: over 2,000 pixels, more than Pillow opens$"):
        open_rgb(tmp_path / "scan.png")


def test_a_photo_with_a_corrupt_exif_block_is_read_without_pillows_warning(tmp_path: Path) -> None:
    """Pillow warned 'Corrupt EXIF data' (a UserWarning with a path inside Pillow) on stderr, twice per
    photo at ingestion and again in training's log, for a photo that is read whole and upright."""
    import warnings

    from spark_trainer.images import decode_problem

    Image.new("RGB", (64, 48), (0, 128, 0)).save(tmp_path / "edited.jpg", exif=b"Exif\x00\x00MM\x00*garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert decode_problem(tmp_path / "edited.jpg", quick=True, verify=True) == ((64, 48), "")
        assert open_rgb(tmp_path / "edited.jpg").size == (64, 48)
    assert [str(w.message) for w in caught] == []


def test_a_shrunk_image_is_still_upright_and_its_transparency_white(tmp_path: Path) -> None:
    """`longest` (thumbnails through Pillow) shrinks before converting; the EXIF turn and the
    transparency must survive that, as they do at full size."""
    image = Image.new("RGBA", (80, 40), (0, 0, 0, 0))  # left half red, right half transparent
    image.paste((255, 0, 0, 255), (0, 0, 40, 40))
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(tmp_path / "sideways.png", exif=exif)
    small = open_rgb(tmp_path / "sideways.png", longest=20)
    assert small.size == (10, 20) and small.mode == "RGB"
    assert small.getpixel((5, 2)) == (255, 0, 0) and small.getpixel((5, 17)) == (255, 255, 255)
    phone = write_phone_photo(tmp_path / "IMG_0002.JPG", (80, 40))
    assert open_rgb(phone, longest=20).size == (10, 20)
