"""The video wizard's last pages, driven on a generated video into a real store."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWizard

from tests.app.gui_assets import write_video
from tests.app.model_sync import sync_model


def _to_summary(qtbot, ctx, store, tmp_path: Path, *extra: Path):  # noqa: ANN001, ANN202 - pytest fixtures
    from app.views.datasets_view import DatasetsView

    view = DatasetsView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    sync_model(qtbot, ctx)
    wizard = view.open_video_wizard()
    wizard.add_page.add_paths([write_video(tmp_path / "clip.avi", n_frames=10, fps=10.0), *extra])
    wizard.next()
    qtbot.waitUntil(wizard.inspect_page.isComplete, timeout=30_000)
    wizard.next()
    wizard.next()
    qtbot.waitUntil(lambda: wizard.result is not None or wizard.process_page.banner.role == "error", timeout=60_000)
    assert wizard.result is not None, wizard.process_page.banner.text()
    wizard.next()
    assert wizard.currentId() == wizard.SUMMARY
    return wizard


def test_summary_offers_close_not_cancel_once_the_dataset_exists(qtbot, ctx, store, project, tmp_path):
    # The dataset is saved when the summary shows: "Cancel" there read as "undo it" (seen on Xvfb).
    wizard = _to_summary(qtbot, ctx, store, tmp_path)
    cancel = wizard.button(QWizard.WizardButton.CancelButton)
    assert cancel.isVisible()
    assert cancel.text() == "Close"


def test_summary_headline_counts_the_videos_it_skipped(qtbot, ctx, store, project, tmp_path):
    # Seen on Xvfb: two of five videos could not be read and were skipped, and the headline said
    # "0 item(s) rejected" (the count of frames rejected), as if every video had been used.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    wizard = _to_summary(qtbot, ctx, store, tmp_path, broken)
    headline = wizard.summary_page.headline.text()
    assert "1 video(s) skipped" in headline, headline
