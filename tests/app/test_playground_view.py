"""The Playground view on a real trained run: streamed answers grow while the model generates, the
GUI thread keeps running, the base model answers beside the fine-tuned one, samples are saved."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QProcess, QTimer

from tests.playground.trained import TRAINING_PROMPT, TrainedRun, train_tiny_run

# Each test trains a tiny run in-process first (about 30 s of CPU); on a loaded shared machine the
# wall time can pass the suite's 600 s default.
pytestmark = pytest.mark.timeout(1800)



@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    return train_tiny_run(tmp_path_factory.mktemp("playground-gui") / "home")


def test_run_detail_opens_the_playground_at_the_selected_checkpoint(trained: TrainedRun, opened, qtbot) -> None:
    from PySide6.QtCore import QItemSelectionModel

    from app.views.run_detail_view import RunDetailView

    store, ctx = opened
    detail = RunDetailView(store, ctx)
    qtbot.addWidget(detail)
    detail.show_run(trained.run_id)
    qtbot.waitUntil(lambda: detail.checkpoints.rowCount() == 2, timeout=15_000)  # read on the pool
    assert detail.playground_button.isEnabled()
    with qtbot.waitSignal(detail.playground_requested) as asked:
        detail.playground_button.click()
    assert asked.args == [trained.run_id, None]  # nothing selected: the last weights
    table = detail.checkpoints
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert list(rows) == ["40", "20"]  # newest first
    # The selection model directly: QTableView.selectRow reads the keyboard modifiers Qt believes
    # are held, which an earlier test in the same process can leave behind.
    flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    table.selectionModel().select(table.model().index(rows["20"], 0), flags)
    assert [index.row() for index in table.selectionModel().selectedRows()] == [rows["20"]]
    with qtbot.waitSignal(detail.playground_requested) as asked:
        detail.playground_button.click()
    assert asked.args == [trained.run_id, "20"]
    detail.stop()


def test_answers_stream_in_beside_the_base_model_and_save_as_a_sample(trained: TrainedRun, opened, qtbot,
                                                                      tmp_path: Path) -> None:
    from app.views.playground_view import PlaygroundView
    from spark_trainer.playground import servers
    from spark_trainer.store import artifacts

    store, ctx = opened
    view = PlaygroundView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    view.open_run(trained.run_id)
    assert view.checkpoint.count() == 0  # read on the pool, not on the GUI thread
    qtbot.waitUntil(lambda: view.opening is None)
    assert [view.checkpoint.itemData(i) for i in range(view.checkpoint.count())] == ["final", "40", "20"]
    assert view.device.currentData() == "cpu"
    panel = view.panel
    panel.prompt.setPlainText(TRAINING_PROMPT)
    panel.compare.setChecked(True)
    panel.temperature.setValue(0)
    panel.max_new_tokens.setValue(24)

    seen: list[tuple[str, str, int]] = []  # (event, variant, length of the fine-tuned answer shown)
    view.client.event.connect(lambda m: seen.append((m["event"], m.get("variant", ""), len(panel.tuned.answer()))))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    view.generate()
    assert not view.generate_button.isEnabled() and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not view.pending, timeout=300_000)
    timer.stop()

    tuned_done = next(i for i, (e, v, _) in enumerate(seen) if e == "done" and v == "tuned")
    shown = [n for e, v, n in seen[:tuned_done] if e == "chunk" and v == "tuned"]
    final = panel.tuned.answer()
    assert len(set(shown)) >= 2 and shown == sorted(shown), f"the answer did not grow while generating: {shown}"
    assert 0 < shown[0] < len(final)  # text was on screen before generation ended
    assert panel.base.isVisible() and panel.base.answer() and panel.base.answer() != final
    assert "tokens in" in panel.tuned.stats.text() and "ended by" in panel.base.stats.text()
    assert view.status.text().startswith("Loaded on CPU")
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 10 and max(gaps) < 1.5, f"the GUI thread stalled for {max(gaps):.2f} s"

    assert view.save_button.isEnabled()
    view.save_button.click()
    qtbot.waitUntil(lambda: "Saved" in view.banner.text(), timeout=20_000)
    saved = [a for a in artifacts.list_for(store, trained.run_id, "sample") if a.meta.get("source") == "playground"]
    item = json.loads(Path(saved[-1].path).read_text())["samples"][0]
    assert (item["prompt"], item["completion"], item["base_completion"]) == (TRAINING_PROMPT, final,
                                                                              panel.base.answer())
    assert view.grab().save(str(tmp_path / "playground.png"))
    view.unload()
    assert view.status.text() == "Unloaded" and not view.unload_button.isEnabled()
    qtbot.waitUntil(lambda: all(p.state() == QProcess.ProcessState.NotRunning
                                for p in view.client.findChildren(QProcess)), timeout=30_000)
    assert servers.live(trained.home) == []
    view.shutdown()


def test_the_idle_unload_time_is_the_playground_idle_seconds_setting(opened, qtbot) -> None:
    from app.views.playground_view import PlaygroundView
    from spark_trainer.playground.server import serve_command
    from spark_trainer.store import settings

    store, ctx = opened
    settings.set_value(store, "playground_idle_seconds", 42)
    view = PlaygroundView(store, ctx)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.client.idle_s == 42.0)  # the setting is read on the pool
    command = serve_command(store.home.root, "cpu", view.client.idle_s)  # what the client starts
    assert command[command.index("--idle-timeout") + 1] == "42"
