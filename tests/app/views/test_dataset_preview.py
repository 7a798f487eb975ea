"""The Datasets view's Preview pager: rows a page at a time, and what it shows when a page cannot be read."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import projects
from tests.app.gui_assets import write_text_dataset
from tests.app.views.test_datasets_view import shown_view


def test_a_page_that_cannot_be_read_leaves_no_rows_of_the_dataset_shown_before(qtbot, store, ctx, tmp_path: Path):
    # Seen in a walk: switching to a dataset whose manifest had a line that is not a JSON object left
    # the previous dataset's rows in the table under "Rows 1–50 of 133" (and a traceback on stderr).
    projects.create(store, "first")
    projects.create(store, "second")
    good = ingest_paths(store, [write_text_dataset(tmp_path / "good", n_good=8)], project="first").dataset
    broken = ingest_paths(store, [write_text_dataset(tmp_path / "broken", n_good=6, seed=1)],
                          project="second").dataset
    manifest = Path(broken.path) / "manifest.jsonl"
    manifest.write_text(manifest.read_text() + "[1, 2]\n")
    view = shown_view(qtbot, store, ctx)
    view.project_combo.setCurrentIndex(view.project_combo.findData(good.project_id))
    pager = view.preview.pager
    qtbot.waitUntil(lambda: pager.position.text() == "Rows 1–8 of 8", timeout=10_000)
    assert pager.model.rowCount() == 8

    view.project_combo.setCurrentIndex(view.project_combo.findData(broken.project_id))
    qtbot.waitUntil(lambda: pager.position.text().startswith("Cannot read rows"), timeout=10_000)
    assert pager.position.text() == f"Cannot read rows: {manifest}: line 7 is not a JSON object"
    assert pager.model.rowCount() == 0
    assert not pager.next_button.isEnabled() and not pager.prev_button.isEnabled()
