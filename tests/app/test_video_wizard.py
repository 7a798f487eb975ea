"""The video wizard driven page by page on generated videos, into a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from spark_trainer.ingest import read_manifest
from spark_trainer.store import datasets
from tests.app.drag import drop
from tests.app.gui_assets import write_video
from tests.app.model_sync import sync_model


@pytest.fixture
def videos(tmp_path: Path) -> tuple[list[Path], Path]:
    good = [write_video(tmp_path / "clips" / f"clip{i}.avi", n_frames=30, fps=10.0, seed=i) for i in range(2)]
    broken = tmp_path / "clips" / "broken.avi"
    broken.write_bytes(good[0].read_bytes()[:300])  # a truncated container
    return good, broken


@pytest.fixture
def datasets_view(store, ctx, project, qtbot):
    from app.views.datasets_view import DatasetsView

    view = DatasetsView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    sync_model(qtbot, ctx)  # the view lists the app model's projects
    return view


def test_wizard_page_by_page_builds_a_frame_dataset(qtbot, datasets_view, store, videos, tmp_path):
    good, broken = videos
    wizard = datasets_view.open_video_wizard()
    assert wizard.currentId() == wizard.ADD
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    (tmp_path / "clips" / "notes.txt").write_text("not a video")
    drop(wizard.add_page.drop, [tmp_path / "clips"])  # a folder dragged from the file manager
    assert sorted(p.name for p in wizard.videos) == ["broken.avi", "clip0.avi", "clip1.avi"]
    assert "not videos" in wizard.add_page.banner.text()
    wizard.next()

    # Inspect: probes run off the GUI thread; the broken file is flagged and highlighted.
    assert wizard.currentId() == wizard.INSPECT
    page = wizard.inspect_page
    qtbot.waitUntil(page.isComplete, timeout=30_000)
    table = page.table
    problems = {table.item(r, 0).text(): table.item(r, table.columnCount() - 1).text() for r in range(3)}
    assert problems["clip0.avi"] == "OK" and problems["clip1.avi"] == "OK"
    assert problems["broken.avi"] != "OK"
    broken_row = next(r for r in range(3) if table.item(r, 0).text() == "broken.avi")
    ok_row = next(r for r in range(3) if table.item(r, 0).text() == "clip0.avi")
    assert table.item(broken_row, 0).background() != table.item(ok_row, 0).background()
    assert table.item(ok_row, 3).text() == "30"
    assert "1 with problems" in page.summary.text()
    wizard.next()

    # Configure: 2 frames per second of 3-second clips, resized; invalid paths block Next.
    assert wizard.currentId() == wizard.CONFIGURE
    config = wizard.configure_page
    config.fps.setValue(2.0)
    config.resize_px.setValue(48)
    config.caption_model.setText(str(tmp_path / "no-such-model"))
    assert not config.isComplete()  # the command's refusal, naming the box (it was a note once the run was done)
    assert config.error.text() == f"Caption model: captioning model folder {tmp_path / 'no-such-model'} not found"
    config.caption_model.setText("")
    config.name.setText("clips-2fps")
    assert config.isComplete()
    assert config.expected_frames() == 12
    wizard.next()

    # Process: per-video and overall progress, then the result.
    assert wizard.currentId() == wizard.PROCESS
    process = wizard.process_page
    qtbot.waitUntil(lambda: wizard.result is not None or process.banner.role == "error", timeout=60_000)
    assert wizard.result is not None, process.banner.text()
    assert process.overall.value() == process.overall.maximum()
    assert "Done" in process.log.toPlainText()
    wizard.next()

    # Summary, then open the dataset in the Datasets view.
    assert wizard.currentId() == wizard.SUMMARY
    summary = wizard.summary_page
    assert "clips-2fps" in summary.headline.text() and "12 frames" in summary.headline.text()
    assert summary.table.rowCount() == 3
    skipped = [summary.table.item(r, 0).text() for r in range(3) if summary.table.item(r, 1).text() == "skipped"]
    assert skipped == ["broken.avi"]
    # The notes name the wizard's boxes, not the command's flags ("--caption-model" was shown).
    notes = summary.notes.text()
    assert "captioning skipped: no model given (set Caption model to a local model folder)" in notes, notes
    assert "transcription skipped: no model given (set Transcription model to a local model folder)" in notes
    assert " --" not in notes, notes
    with qtbot.waitSignal(wizard.dataset_created, timeout=5000) as signal:
        summary.link.linkActivated.emit(summary.link.text())
    dataset = datasets.get(store, signal.args[0])
    assert dataset.name == "clips-2fps" and dataset.num_items == 12
    rows = read_manifest(Path(dataset.path), 0, None)
    assert len(rows) == 12
    assert all(max(r["width"], r["height"]) <= 48 for r in rows)
    assert all((Path(dataset.path) / r["path"]).is_file() for r in rows)
    assert datasets_view.selected_dataset() is not None and datasets_view.selected_dataset().id == dataset.id


def test_process_page_shows_per_video_progress_and_cancel_saves_nothing(qtbot, datasets_view, store, tmp_path):
    # Long enough that frame extraction reports several times (reports are coalesced to 20 per second).
    clips = [write_video(tmp_path / f"long{i}.avi", n_frames=900, fps=30.0, size=(160, 120), seed=i) for i in range(2)]
    wizard = datasets_view.open_video_wizard()
    wizard.add_page.add_paths(clips)
    wizard.next()
    qtbot.waitUntil(wizard.inspect_page.isComplete, timeout=30_000)
    wizard.next()
    wizard.configure_page.mode_every.setChecked(True)
    wizard.configure_page.every_n.setValue(1)
    wizard.next()
    process = wizard.process_page
    qtbot.waitUntil(lambda: process.video_progress.maximum() == 900 or not process.running, timeout=60_000)
    assert process.video_progress.maximum() == 900 and process.video_progress.value() > 0
    assert "long0.avi" in process.current.text()
    process.cancel()
    qtbot.waitUntil(lambda: not process.running, timeout=60_000)
    if wizard.result is None:  # the cancel arrived before the last video was done (the usual case)
        assert process.banner.role == "warning"
        assert not process.isComplete()
        assert datasets.list_all(store) == []
    wizard.back()
    assert wizard.currentId() == wizard.CONFIGURE


def test_a_caption_model_folder_that_does_not_load_fails_in_one_line_saving_nothing(qtbot, datasets_view, store,
                                                                                   tmp_path):
    """A text model as the caption model failed with "TypeError: Processor was loaded, but..." (a
    transformers error the wizard did not catch); now the core's line, as the command says it."""
    from tests.ingest.tiny_models import make_tiny_bert

    bert = make_tiny_bert(tmp_path / "bert")
    write_video(tmp_path / "clips" / "clip0.avi", n_frames=10, fps=10.0, seed=0)
    wizard = datasets_view.open_video_wizard()
    drop(wizard.add_page.drop, [tmp_path / "clips"])
    wizard.next()
    qtbot.waitUntil(wizard.inspect_page.isComplete, timeout=30_000)
    wizard.next()
    wizard.configure_page.caption_model.setText(str(bert))
    assert wizard.configure_page.isComplete()  # a folder: whether it loads is known once loaded
    wizard.next()
    process = wizard.process_page
    qtbot.waitUntil(lambda: not process.running, timeout=60_000)
    assert process.banner.role == "error"
    assert process.banner.text().startswith(f"Failed: cannot load captioning model {bert}: Processor was loaded")
    assert not process.isComplete() and datasets.list_all(store) == []
    assert not (store.home.root / "cache" / "video").exists()  # failed before any frame was extracted


def test_a_dataset_left_unnamed_is_named_after_the_folder_dropped(qtbot, datasets_view, store, tmp_path):
    """`spark-trainer video clips/` names the dataset `clips`; the wizard, given the same folder, named it
    after the first video in it ("clip0")."""
    write_video(tmp_path / "holiday clips" / "clip0.avi", n_frames=10, fps=10.0, seed=0)
    wizard = datasets_view.open_video_wizard()
    drop(wizard.add_page.drop, [tmp_path / "holiday clips"])
    wizard.next()
    qtbot.waitUntil(wizard.inspect_page.isComplete, timeout=30_000)
    wizard.next()
    assert wizard.configure_page.name.text() == ""
    wizard.next()
    qtbot.waitUntil(lambda: wizard.result is not None or wizard.process_page.banner.role == "error", timeout=60_000)
    assert wizard.result is not None, wizard.process_page.banner.text()
    assert wizard.result.dataset.name == "holiday-clips"


def test_frames_smaller_than_an_image_may_be_are_refused_before_any_work(qtbot, datasets_view, store, tmp_path):
    """Image ingestion rejects pictures under 32 px; the wizard took 2x2 frames from a tiny video, and a
    resize to 20 px."""
    write_video(tmp_path / "clips" / "clip0.avi", n_frames=10, fps=10.0, size=(96, 64))
    write_video(tmp_path / "clips" / "tiny.avi", n_frames=10, fps=10.0, size=(24, 24))
    wizard = datasets_view.open_video_wizard()
    drop(wizard.add_page.drop, [tmp_path / "clips"])
    wizard.next()
    page = wizard.inspect_page
    qtbot.waitUntil(page.isComplete, timeout=30_000)
    table = page.table
    problems = {table.item(r, 0).text(): table.item(r, table.columnCount() - 1).text() for r in range(2)}
    assert problems == {"clip0.avi": "OK",
                        "tiny.avi": "frames too small: 24x24; the minimum side is 32 px (as for images)"}
    assert "1 with problems" in page.summary.text()
    wizard.next()
    config = wizard.configure_page
    config.resize_px.setValue(20)
    assert not config.isComplete()
    # in the words of the box beside it (it said "--resize", a flag of the command line)
    assert config.error.text() == "Resize must be at least 32 pixels (the smallest image side), got 20"
    config.resize_px.setValue(40)  # 40x27 from 96x64
    assert config.error.text() == ("Resize 40 would make the frames of clip0.avi 40x27, under the 32 px "
                                   "minimum side of an image; use at least 48")
    config.resize_px.setValue(48)
    assert config.isComplete()
    assert wizard.good_videos() == [tmp_path / "clips" / "clip0.avi"]


def test_the_inspect_page_says_which_video_ended_early(qtbot, datasets_view, tmp_path):
    from tests.ingest.media import truncate, write_av_video

    (tmp_path / "clips").mkdir()
    truncate(write_av_video(tmp_path / "clips" / "cut.mkv", 32, container="matroska"), keep=0.7)
    wizard = datasets_view.open_video_wizard()
    drop(wizard.add_page.drop, [tmp_path / "clips"])
    wizard.next()
    qtbot.waitUntil(wizard.inspect_page.isComplete, timeout=30_000)
    table = wizard.inspect_page.table
    assert table.item(0, table.columnCount() - 1).text() == "OK, but it ended early: decoded 1.0 s of 1.3 s"


def test_the_frame_estimate_agrees_with_the_disk_estimate_on_a_variable_frame_rate_video(qtbot, datasets_view,
                                                                                      store, tmp_path):
    """"About 3 frames" at 2 fps (the frames counted at the 25 fps average), where the disk estimate
    counted 11 and extraction wrote 7."""
    from spark_trainer.ingest.video import space
    from tests.ingest.media import write_av_video

    (tmp_path / "clips").mkdir()
    times = [i * 40 for i in range(25)] + [1000 * (i + 1) for i in range(5)]  # dense first second, then 1 fps
    write_av_video(tmp_path / "clips" / "screen recording.mkv", 30, pts_ms=times)
    wizard = datasets_view.open_video_wizard()
    drop(wizard.add_page.drop, [tmp_path / "clips"])
    wizard.next()
    qtbot.waitUntil(wizard.inspect_page.isComplete, timeout=30_000)
    wizard.next()
    config = wizard.configure_page
    config.fps.setValue(2.0)
    assert config.estimate.text() == "About 7 frames from 1 video(s)."
    assert len(space.kept_indices(wizard.probes[0], "fps", fps=2.0)) == 7  # what the disk estimate counts
    wizard.next()
    qtbot.waitUntil(lambda: wizard.result is not None or wizard.process_page.banner.role == "error", timeout=60_000)
    assert wizard.result is not None, wizard.process_page.banner.text()
    assert [v["frames"] for v in wizard.result.report.extra["videos"].values()] == [7]  # extracted



@pytest.mark.parametrize(("probed_in", "shown_in"), [("dark", "dark"), ("light", "light"), ("light", "dark"),
                                                     ("dark", "light"), (None, None)])
def test_a_problem_row_is_readable_in_both_themes(qtbot, qapp, themed, datasets_view, tmp_path, probed_in, shown_in):
    """The Inspect page's problem rows had the dark theme's red background and the palette's text: black
    on dark red where the palette was not the dark theme's (offscreen renders, which apply no theme; a
    switch to the light theme after probing). They now take the theme's error colours, as the error
    banners do, and follow a theme switch. `None`: no theme applied (the default palette)."""
    import os

    from PySide6.QtGui import QColor

    from app import theme
    from tests.app.test_theme import _contrast

    if probed_in:
        themed(probed_in)
    write_video(tmp_path / "clips" / "clip0.avi", n_frames=10, fps=10.0, size=(96, 64))
    write_video(tmp_path / "clips" / "tiny.avi", n_frames=10, fps=10.0, size=(24, 24))
    wizard = datasets_view.open_video_wizard()
    drop(wizard.add_page.drop, [tmp_path / "clips"])
    wizard.next()
    page = wizard.inspect_page
    qtbot.waitUntil(page.isComplete, timeout=30_000)
    if shown_in != probed_in:
        themed(shown_in)
    table = page.table
    table.clearSelection()
    table.setCurrentCell(-1, -1)
    row = next(r for r in range(2) if table.item(r, 0).text() == "tiny.avi")
    qtbot.wait(50)
    shot = table.viewport().grab()
    shot.save(str(Path(os.environ.get("SPARK_SHOTS", tmp_path)) / f"video-wizard-problem-{probed_in}-{shown_in}.png"))
    rect = table.visualRect(table.model().index(row, table.columnCount() - 1))
    image, scale = shot.toImage(), shot.devicePixelRatio()
    pixels = [image.pixelColor(int(x * scale), int(y * scale))
              for x in range(rect.left() + 2, rect.right() - 1) for y in range(rect.top() + 2, rect.bottom() - 1)]
    names = [p.name() for p in pixels]
    background = QColor(max(set(names), key=names.count))
    assert background.name() == theme.current().error_bg
    text = max(pixels, key=lambda p: _contrast(p, background))  # the glyphs' core
    assert _contrast(text, background) >= 4.5, (text.name(), background.name())


def test_the_wizard_fits_a_1024x600_screen_with_its_buttons_in_sight(qtbot, datasets_view):
    """Its minimum was 900 x 620: on a 1024 x 600 screen Next and Cancel were below the screen's edge.
    Now the pages scroll and the buttons stay put."""
    wizard = datasets_view.open_video_wizard()
    wizard.setStartId(wizard.CONFIGURE)  # the tallest page
    wizard.restart()
    wizard.resize(1000, 540)  # 1024 x 600 less a title bar and a panel
    qtbot.waitUntil(lambda: wizard.height() <= 540)
    _buttons_and_last_setting_in_sight(qtbot, wizard)
    wizard.resize(wizard.minimumSize())  # smaller still, the page scrolls
    qtbot.wait(20)
    _buttons_and_last_setting_in_sight(qtbot, wizard)


def _buttons_and_last_setting_in_sight(qtbot, wizard) -> None:
    from app.wheel_guard import scroll_area_of

    for which in (QWizard.WizardButton.NextButton, QWizard.WizardButton.CancelButton):
        button = wizard.button(which)
        assert button.isVisible()
        assert button.mapTo(wizard, button.rect().bottomRight()).y() < wizard.height()
    page = wizard.configure_page
    last = page.val_fraction
    area = scroll_area_of(last)
    assert area is not None
    area.ensureWidgetVisible(last)
    qtbot.wait(20)
    assert not last.visibleRegion().isEmpty()
