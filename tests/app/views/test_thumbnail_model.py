"""The image grid's model: every image ingestion accepts gets a thumbnail, upright; the grid spans the
whole dataset from the start; only the thumbnails near what is shown are kept."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from PIL import Image

from spark_trainer.store.entities import Dataset


def test_every_kind_of_image_ingestion_accepts_gets_a_thumbnail(qtbot, tmp_path: Path) -> None:
    """AVIF (which Qt has no reader for here) and an image past Qt's allocation limit (a large scan:
    ingestion takes up to 100 Mpx, Qt refuses what needs more than 256 MB) showed the grey placeholder."""
    from PySide6.QtGui import QImageReader

    from app.views.thumbnail_model import THUMB, _thumbnail
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


def _photos(folder: Path, count: int, listed: int | None = None) -> Dataset:
    """An image dataset of `count` tiny photos whose manifest lists the first `listed` of them."""
    folder.mkdir()
    rows = []
    for i in range(count):
        Image.new("RGB", (16, 12), (i % 256, 80, 120)).save(folder / f"p{i:04d}.png")
        rows.append({"path": f"p{i:04d}.png", "label": f"photo {i}"})
    lines = [json.dumps(row) for row in rows[:listed]]
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return Dataset(id=1, project_id=1, project="p", name="photos", kind="image", status="ready", path=str(folder),
                   version="1", num_items=count, num_train=count, num_val=0, num_rejected=0, num_duplicates=0,
                   size_bytes=0, sources=[], meta={}, created_at=datetime(2024, 1, 1))


def _grid(ctx, qtbot, dataset: Dataset):
    from app.views.dataset_preview import ThumbnailGrid

    grid = ThumbnailGrid(ctx)
    qtbot.addWidget(grid)
    grid.resize(700, 500)
    grid.show()
    grid.show_dataset(dataset)
    return grid


def _shown(grid) -> None:
    grid.view.viewport().repaint()  # the view asks for what it shows


def test_paging_through_the_grid_keeps_a_bounded_number_of_thumbnails(ctx, qtbot, tmp_path, monkeypatch) -> None:
    """Paging through 3,000 photos held every thumbnail (155 -> 306 MB; 20k photos would be ~1 GB)."""
    from app.views import thumbnail_model

    monkeypatch.setattr(thumbnail_model, "KEEP_THUMBS", 40)
    monkeypatch.setattr(thumbnail_model, "GRID_CHUNK", 30)
    grid = _grid(ctx, qtbot, _photos(tmp_path / "photos", 300))
    model = grid.model
    assert model.rowCount() == 300  # the scrollbar spans the dataset before its rows are read
    bar = grid.view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)
    most, seen = 0, set()
    while True:
        _shown(grid)
        qtbot.waitUntil(lambda: not model.busy(), timeout=10_000)
        _shown(grid)
        qtbot.waitUntil(lambda: not model.busy(), timeout=10_000)
        most, seen = max(most, len(model.pixmaps)), seen | set(model.pixmaps)
        if bar.value() == bar.maximum():
            break
        bar.setValue(bar.value() + bar.pageStep())
    assert 299 in seen and len(seen) > 200  # every page was shown, thumbnails and all
    assert most <= 40
    assert model.data(model.index(299)) == "photo 299"
    bar.setValue(0)  # scrolled back: the first thumbnails, dropped meanwhile, are decoded again
    assert 0 not in model.pixmaps
    qtbot.waitUntil(lambda: (_shown(grid), 0 in model.pixmaps)[1], timeout=10_000)
    assert len(model.pixmaps) <= 40


def test_a_far_row_is_read_without_the_rows_before_it(ctx, qtbot, tmp_path, monkeypatch) -> None:
    """A 20k-photo grid reached its end after ~167 fetches of 120 rows: each chunk is read where the grid
    looks, so the end of the dataset costs one read."""
    from app.views import thumbnail_model

    monkeypatch.setattr(thumbnail_model, "GRID_CHUNK", 10)
    grid = _grid(ctx, qtbot, _photos(tmp_path / "photos", 200))
    model = grid.model
    grid.view.scrollToBottom()
    qtbot.waitUntil(lambda: (_shown(grid), model.data(model.index(199)) == "photo 199")[1], timeout=10_000)
    assert len(model.chunks) < 8, sorted(model.chunks)  # the first and the last few, not the 20 between


def test_a_manifest_shorter_than_the_datasets_count_ends_the_grid_where_it_ends(ctx, qtbot, tmp_path,
                                                                                monkeypatch) -> None:
    from app.views import thumbnail_model

    monkeypatch.setattr(thumbnail_model, "GRID_CHUNK", 10)
    grid = _grid(ctx, qtbot, _photos(tmp_path / "photos", 40, listed=25))
    model = grid.model
    qtbot.waitUntil(lambda: (_shown(grid), grid.view.scrollToBottom(), model.rowCount() == 25)[-1], timeout=10_000)
    qtbot.waitUntil(lambda: (_shown(grid), model.data(model.index(24)) == "photo 24")[1], timeout=10_000)
    assert "25 items" in grid.count.text()
