"""Users' image files as the app shows them: upright (the EXIF turn a phone photo carries applied,
as training applies it), scaled while decoding where the format allows, and through Pillow where Qt
cannot: a format Qt has no reader for here (AVIF, which ingestion and training take) or an image
past Qt's allocation limit (256 MB decoded: a scan over ~64 Mpx; ingestion takes up to 100 Mpx).
Safe off the GUI thread (QImage, not QPixmap)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader


def read_image(path: str, longest: int | None = None) -> QImage:
    """The image at `path`, upright, shrunk to fit a `longest`-pixel square when given; a null
    QImage when neither Qt nor Pillow decodes it."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() * size.height() * 4 > QImageReader.allocationLimit() * 2**20:
        return _through_pillow(path, longest)  # Qt would refuse it (with a warning on stderr)
    if longest and size.isValid() and (size.width() > longest or size.height() > longest):
        reader.setScaledSize(size.scaled(longest, longest, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return image if not image.isNull() else _through_pillow(path, longest)


def _through_pillow(path: str, longest: int | None) -> QImage:
    from spark_trainer.images import open_rgb

    try:
        rgb = open_rgb(path, longest)
    except (OSError, ValueError, SyntaxError):  # Pillow's ways of saying it is not an image it reads
        return QImage()
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()
