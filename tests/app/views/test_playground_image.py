"""The diffusion playground's images follow the window: made at one size, they fit the next."""

from __future__ import annotations

from PIL import Image


def test_an_image_shrinks_with_its_box_instead_of_being_cut_off(qtbot, tmp_path):
    """Seen on Xvfb: an image made with the window at 1280x800 stayed ~370 px when the window went
    to 1024x700, cut off at the right edge of its box (and the box could not shrink below it)."""
    from app.views.playground_image_panels import ImageBox

    path = tmp_path / "tuned.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(path)
    box = ImageBox("With LoRA")
    qtbot.addWidget(box)
    box.resize(600, 600)
    box.show()
    qtbot.waitExposed(box)
    box.show_image(str(path))
    big = box.image.pixmap().size()
    assert big.width() == big.height() > 400
    box.resize(300, 320)
    qtbot.waitUntil(lambda: box.image.pixmap().width() < big.width())
    shown = box.image.pixmap().size()
    assert box.width() == 300
    assert shown.width() == shown.height() <= min(box.image.width(), box.image.height())
    box.resize(600, 600)  # and it grows back
    qtbot.waitUntil(lambda: box.image.pixmap().width() == big.width())


def test_a_dropped_phone_photo_is_shown_upright_as_the_model_sees_it(qtbot, tmp_path):
    """The classifier reads a photo upright (EXIF turn applied); the drop area showed it on its side."""
    from app.views.playground_image_panels import ImageDropArea
    from tests.ingest.media import write_phone_photo

    area = ImageDropArea()
    qtbot.addWidget(area)
    area.set_path(str(write_phone_photo(tmp_path / "IMG_0001.JPG", (80, 40))))  # shown 40 wide, 80 high, red on top
    shown = area.pixmap().toImage()
    assert shown.height() > shown.width()
    assert shown.pixelColor(shown.width() // 2, 5).red() > 200 and shown.pixelColor(shown.width() // 2, shown.height() - 5).red() < 60


def test_an_avif_photo_qt_cannot_read_is_shown_through_pillow(qtbot, tmp_path):
    """Ingestion and training take AVIF (Pillow reads it); Qt has no reader for it here, so the drop
    area said 'Cannot show' for a photo the model could classify."""
    from app.views.playground_image_panels import ImageDropArea

    Image.new("RGB", (64, 48), (30, 200, 40)).save(tmp_path / "photo.avif")
    area = ImageDropArea()
    qtbot.addWidget(area)
    area.set_path(str(tmp_path / "photo.avif"))
    assert area.path == str(tmp_path / "photo.avif")
    shown = area.pixmap().toImage()
    assert shown.width() > shown.height() and shown.pixelColor(10, 10).green() > 150


def test_the_file_chooser_offers_every_image_kind_training_reads() -> None:
    """It offered png/jpg/jpeg/webp/bmp: a GIF, a TIFF scan or an AVIF photo could be dropped but not chosen."""
    from app.views.playground_image_panels import IMAGE_FILTER
    from spark_trainer.ingest.detect import IMAGE_EXTS

    assert IMAGE_FILTER.startswith("Images (") and set(IMAGE_FILTER[8:-1].split()) == {f"*{e}" for e in IMAGE_EXTS}
