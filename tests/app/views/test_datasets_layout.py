"""The datasets table keeps room for its rows when an image dataset's preview opens below it: with
four datasets at 1280x800 it showed under two rows, so the selected dataset was out of sight."""

from __future__ import annotations

from PIL import Image


def test_the_table_shows_every_dataset_of_a_small_project_beside_an_image_preview(store, window, qtbot, tmp_path):
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import projects
    from tests.app.model_sync import sync_model

    projects.create(store, "p")
    for n in range(3):
        text = tmp_path / f"t{n}.jsonl"
        text.write_text("".join(f'{{"text": "t {i}", "label": {i % 2}}}\n' for i in range(150)))
        ingest_paths(store, [text], project="p", name=f"text-{n}")
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(12):
            Image.new("RGB", (32, 32), (20 * i, 10, 10)).save(tmp_path / "pets" / name / f"{i}.png")
    pets = ingest_paths(store, [tmp_path / "pets"], project="p", name="pets")
    view = window.show_view("datasets")  # at once, as a start on the last view (1280x800, no saved layout)
    sync_model(qtbot, window.ctx)
    qtbot.waitUntil(lambda: view.table.rowCount() == 4)
    view.select(pets.dataset.id)
    qtbot.waitUntil(lambda: view.table.rowCount() == 4)
    qtbot.wait(100)  # the preview fills and the layout settles
    table = view.table
    needed = table.horizontalHeader().height() + sum(table.rowHeight(r) for r in range(table.rowCount()))
    assert table.height() >= needed, f"table {table.height()} px for {needed} px of rows"


def test_at_the_smallest_window_the_datasets_header_keeps_its_words(store, qsettings, qtbot):
    # At the window's minimum size (760x520) "Video wizard…" and "Delete dataset" were 90 px for 103 px
    # of text: the header wanted ~651 px and the view had ~590, more so as the Project box grew to the
    # longest project name.
    from spark_trainer.store import projects
    from tests.app.small_window import cut_buttons, view_at_smallest

    projects.create(store, "p")
    projects.create(store, "a project with a rather long name for a small window")
    win, view = view_at_smallest(qtbot, store, qsettings, "datasets")
    cut = cut_buttons(view)
    assert not cut, cut
    assert view.minimumSizeHint().width() <= view.width()
    assert view.project_combo.geometry().right() < view.width()
    assert view.kind_combo.width() >= view.kind_combo.minimumSizeHint().width()
    win.close()
