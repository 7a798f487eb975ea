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
