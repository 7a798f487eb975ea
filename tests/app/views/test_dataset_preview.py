"""Thumbnails of an image dataset's files: every image ingestion accepts gets one, upright."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def test_every_kind_of_image_ingestion_accepts_gets_a_thumbnail(qtbot, tmp_path: Path) -> None:
    """AVIF (which Qt has no reader for here) and an image past Qt's allocation limit (a large scan:
    ingestion takes up to 100 Mpx, Qt refuses what needs more than 256 MB) showed the grey placeholder."""
    from PySide6.QtGui import QImageReader

    from app.views.dataset_preview import THUMB, _thumbnail
    from tests.ingest.media import write_phone_photo

    Image.new("RGB", (64, 48), (30, 200, 40)).save(tmp_path / "photo.avif")
    Image.new("RGB", (1200, 800), (200, 30, 40)).save(tmp_path / "scan.png")
    phone = write_phone_photo(tmp_path / "IMG_0001.JPG", (80, 40))
    limit = QImageReader.allocationLimit()
    QImageReader.setAllocationLimit(1)  # MB: the 1200x800 scan (3.7 MB decoded) stands for a 100 Mpx one
    try:
        scan = _thumbnail(str(tmp_path / "scan.png"))
    finally:
        QImageReader.setAllocationLimit(limit)
    assert not scan.isNull() and max(scan.width(), scan.height()) == THUMB and scan.width() > scan.height()
    assert scan.pixelColor(5, 5).red() > 150
    avif = _thumbnail(str(tmp_path / "photo.avif"))
    assert (avif.width(), avif.height()) == (64, 48) and avif.pixelColor(5, 5).green() > 150
    upright = _thumbnail(str(phone))
    assert (upright.width(), upright.height()) == (40, 80) and upright.pixelColor(20, 5).red() > 200
