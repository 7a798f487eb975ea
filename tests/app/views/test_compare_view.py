"""Comparing runs of different recipes over real store rows: accuracy and perplexity, tokens/s and
examples/s are each on a chart of their own; every curve has its run's colour; added charts follow
the compare page's style (no legend over the curves: the runs are named above)."""

from __future__ import annotations

import time
from pathlib import Path

from spark_trainer.store import experiments, metrics, projects, runs


def _run(store, recipe: str, rows: dict[str, list[float]], name: str | None = None, config: dict | None = None):
    if not any(p.name == "cmp" for p in projects.list_all(store)):
        projects.create(store, "cmp")
    exp = experiments.create(store, project="cmp", name=name or recipe, recipe=recipe, base_model="m", dataset=None,
                             config=config or {})
    run = runs.create(store, exp.id, total_steps=3)
    now = time.time()
    metrics.add_batch(store, run.id, [(key, i + 1, v, now + i) for key, values in rows.items()
                                      for i, v in enumerate(values)])
    return run


def test_comparing_recipes_gives_each_scale_its_chart(store, ctx, qtbot) -> None:
    from app.charts.live_chart import colour
    from app.views.runs_view import RunsView

    lm = _run(store, "causal-lm", {"loss": [3.0, 2.5, 2.2], "eval_perplexity": [220.0, 180.0, 150.0],
                                   "tokens_per_s": [5000.0, 5100.0, 5200.0]})
    cls = _run(store, "text-classification", {"loss": [0.9, 0.7, 0.6], "eval_accuracy": [0.6, 0.7, 0.75],
                                              "eval_macro_f1": [0.5, 0.6, 0.7], "examples_per_s": [40.0, 41.0, 42.0]})
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([lm.id, cls.id])
    page = view.compare_page
    panel = page.charts
    qtbot.waitUntil(lambda: panel.point_count(f"run {cls.id} examples_per_s") == 3
                    and panel.point_count(f"run {lm.id} tokens_per_s") == 3, timeout=10_000)
    perplexity, accuracy = panel.chart_of("eval_perplexity"), panel.chart_of("eval_accuracy")
    assert perplexity is not accuracy and accuracy is not panel.chart_of("eval_macro_f1")
    assert panel.chart_of("tokens_per_s") is not panel.chart_of("examples_per_s")
    assert accuracy.curve_names() == [f"run {cls.id} eval_accuracy"]
    for chart in panel.charts.values():
        assert not chart.legend.isVisible()
        for name in chart.curve_names():
            run_index = 0 if name.startswith(f"run {lm.id} ") else 1
            assert chart.colour_of(name) == colour(run_index), name
    qtbot.waitUntil(lambda: accuracy.plot_widget.isVisible())
    low, high = accuracy.plot.getViewBox().viewRange()[1]
    assert 0.5 < low and high < 0.9
    view.shutdown()


def test_comparing_diffusion_runs_says_where_their_evaluation_metric_is(store, ctx, qtbot) -> None:
    """Seen on Xvfb comparing two diffusion-LoRA runs: 'Evaluation metrics: No points yet' although both
    had evaluated; their one metric, eval_loss, is on the Loss chart, as a single run's page says."""
    from app.views.runs_view import RunsView

    first = _run(store, "diffusion-lora", {"loss": [1.2, 1.1, 1.1], "eval_loss": [1.15, 1.12, 1.11]})
    second = _run(store, "diffusion-lora", {"loss": [1.3, 1.2, 1.1], "eval_loss": [1.2, 1.15, 1.1]}, "copy",
                  config={"train": {"learning_rate": 0.001}})
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([first.id, second.id])
    panel = view.compare_page.charts
    qtbot.waitUntil(lambda: panel.point_count(f"run {second.id} eval_loss") == 3, timeout=10_000)
    assert "is on the Loss chart" in panel.charts["eval"].empty_label.text(), panel.charts["eval"].empty_label.text()
    assert "images/s" in panel.charts["throughput"].empty_label.text()
    page = view.compare_page
    qtbot.waitUntil(lambda: page.diff.rowCount() == 1, timeout=10_000)
    assert page.diff_note.text() == "1 setting differs", page.diff_note.text()  # was "1 setting differ"


def test_samples_side_by_side_show_each_runs_images_or_texts(store, ctx, qtbot, tmp_path) -> None:
    """Compare showed a diffusion run's sample as the text "[image step-00000003-00.png] a red square";
    each run's last sample is now drawn as its own page draws it: images over their prompts, or texts."""
    import json

    from PIL import Image
    from PySide6.QtWidgets import QLabel

    from app.views.runs_view import RunsView
    from spark_trainer.store import artifacts

    def sample(run, colour_name: str | None, prompt: str, output: str = "") -> None:
        folder = tmp_path / f"samples-{run.id}"
        folder.mkdir()
        item = {"prompt": prompt}
        if colour_name:
            Image.new("RGB", (32, 32), colour_name).save(folder / "step-00000003-00.png")
            item["image"] = "step-00000003-00.png"
        else:
            item["output"] = output
        (folder / "step-00000003.json").write_text(json.dumps({"step": 3, "samples": [item]}))
        artifacts.add(store, run.id, "sample", str(folder / "step-00000003.json"), step=3)

    red = _run(store, "diffusion-lora", {"loss": [1.2, 1.1, 1.0]}, "red")
    blue = _run(store, "diffusion-lora", {"loss": [1.3, 1.2, 1.1]}, "blue")
    text = _run(store, "causal-lm", {"loss": [3.0, 2.0, 1.0]}, "lm")
    empty = _run(store, "causal-lm", {"loss": [3.0, 2.0, 1.0]}, "none")
    sample(red, "red", "a red square")
    sample(blue, "blue", "a blue square")
    sample(text, None, "Once upon", " a time")
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([red.id, blue.id, text.id, empty.id])
    page = view.compare_page
    qtbot.waitUntil(lambda: page.samples_layout.count() == 4, timeout=10_000)
    columns = [page.samples_layout.itemAt(i).widget().widget() for i in range(4)]
    pictures = [[label.pixmap().toImage().pixelColor(5, 5).name() for label in column.findChildren(QLabel)
                 if not label.pixmap().isNull()] for column in columns]
    assert pictures == [["#ff0000"], ["#0000ff"], [], []]
    texts = [" ".join(label.text() for label in column.findChildren(QLabel)) for column in columns]
    assert "a red square" in texts[0] and "[image" not in texts[0]
    assert "Once upon" in texts[2] and "a time" in texts[2]
    assert f"run {empty.id}</b>: no samples" in texts[3]
    view.shutdown()


def test_no_chart_is_cut_off_in_a_small_window(store, window, qtbot) -> None:
    # Seen at 1024 x 640: three rows of charts 105 px high, each with its step axis label cut off.
    from tests.app.charts.test_panel import cut_off
    from tests.app.model_sync import sync_model

    first = _run(store, "causal-lm", {"loss": [3.0, 2.5, 2.2], "lr": [1e-4, 2e-4, 1e-4]})
    second = _run(store, "causal-lm", {"loss": [3.1, 2.4, 2.0], "lr": [1e-4, 2e-4, 1e-4]}, name="b")
    sync_model(qtbot, window.ctx)
    for size in ((1024, 640), (1280, 800)):
        window.resize(*size)
        view = window.show_view("runs")
        view.compare([first.id, second.id])
        panel = view.compare_page.charts
        qtbot.waitUntil(lambda p=panel: p.point_count(f"run {second.id} loss") == 3, timeout=10_000)
        qtbot.waitUntil(lambda s=size: window.size().toTuple() == s)
        qtbot.wait(50)
        assert cut_off(panel) == [], size


def _plain(label) -> str:  # noqa: ANN001 - a QLabel
    """What a rich-text label shows, without the no-break marks that keep each entry on one line."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText().replace("\u2060", "").replace("\u00a0", " ")


def test_ten_runs_with_long_names_are_all_named_on_screen_at_1024(store, window, qtbot) -> None:
    # Seen in a GUI walk: the colour legend was one unwrapped line, so with 10 runs or 76-character
    # experiment names the later runs fell off the window's right edge; the Config differences headers
    # "run N (experiment)" were centred and clipped on both sides (no run id showed), and base_model
    # paths, cut at the right, hid the model names that differed.
    from PySide6.QtCore import Qt

    from tests.app.model_sync import sync_model

    long = "lora-r16-lr3e-3-seq128-packing-on-support-tickets-with-a-rather-long-experiment-name"
    model = "/home/someone/.local/share/spark-trainer/models/demo-tiny-llama-{}"  # differing at the end
    made = [_run(store, "causal-lm", {"loss": [3.0, 2.5]}, name=f"{long}-{i}",
                 config={"base_model": model.format(i)}) for i in range(10)]
    sync_model(qtbot, window.ctx)
    window.resize(1024, 640)
    view = window.show_view("runs")
    view.compare([r.id for r in made])
    page = view.compare_page
    qtbot.waitUntil(lambda: page.diff.rowCount() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1024, 640))
    qtbot.wait(50)

    legend = page.legend
    shown = _plain(legend)
    assert all(f"run {r.id} · lora-r16" in shown for r in made), shown
    right = legend.mapTo(window, legend.rect().topRight()).x()
    assert right <= window.width() and legend.minimumSizeHint().width() < 400
    assert legend.heightForWidth(legend.width()) <= legend.height()  # every line of it shows

    header = page.diff.horizontalHeader()
    metrics = header.fontMetrics()
    assert header.defaultAlignment() & Qt.AlignmentFlag.AlignLeft
    for col, run in enumerate(made, start=1):
        text = page.diff.horizontalHeaderItem(col).text()
        seen = metrics.elidedText(text, header.textElideMode(), header.sectionSize(col) - 8)
        assert seen.startswith(f"run {run.id}") and len(seen) < len(text), (seen, text)

    row = next(r for r in range(page.diff.rowCount()) if page.diff.item(r, 0).text() == "base_model")
    assert not page.diff.wordWrap()
    for col in range(1, 11):
        seen = page.diff.fontMetrics().elidedText(page.diff.item(row, col).text(), page.diff.textElideMode(),
                                                  page.diff.columnWidth(col) - 8)
        assert seen.endswith(f"-{col - 1}") and seen != model.format(col - 1), seen


def _evaluated(store, run: int, data: str, accuracy: float, step: int) -> None:
    """A classification evaluation completed as the worker completes one: its result and its run metric."""
    from spark_trainer.store import evaluations

    ev = evaluations.create(store, run, task="classification", data_path=data, base=False, checkpoint="last", gpus=[])
    evaluations.complete(store, ev.id, step=step, result={"task": "classification", "metrics": {"accuracy": accuracy}},
                         points=[("evals/classification_accuracy", step, accuracy)],
                         report_path=f"/evals/{ev.id}.json", artifact_meta={})


def test_evaluation_results_are_shown_per_evaluation_data_and_not_drawn_as_one_curve(store, ctx, qtbot) -> None:
    """Run a was evaluated on an 18-row held-out file, then on a 1-row one: its evals/classification_accuracy
    curve (and last value) mixed both files beside run b's held-out figure; now a row per data says which."""
    from app.views.runs_view import RunsView

    a = _run(store, "text-classification", {"loss": [0.9, 0.7, 0.6]}, "a")
    b = _run(store, "text-classification", {"loss": [0.8, 0.7, 0.5]}, "b")
    _evaluated(store, a.id, "/d/heldout.jsonl", 0.85, step=3)
    _evaluated(store, a.id, "/d/one.jsonl", 1.0, step=3)
    _evaluated(store, b.id, "/d/heldout.jsonl", 0.7, step=3)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([a.id, b.id])
    page = view.compare_page
    table = page.eval_table
    qtbot.waitUntil(lambda: table.rowCount() == 2 and page.charts.point_count(f"run {b.id} loss") == 3,
                    timeout=10_000)
    cells = [[table.item(r, c).text() for c in range(3)] for r in range(2)]
    assert cells == [["classification_accuracy on heldout.jsonl", "0.85", "0.7"],
                     ["classification_accuracy on one.jsonl", "1", "-"]]
    assert "heldout.jsonl, one.jsonl" in page.eval_note.text()
    curves = [n for chart in page.charts.charts.values() for n in chart.curve_names()]
    assert not [n for n in curves if "evals/" in n], curves
    assert "Evaluation results tab" in page.charts.charts["eval"].empty_label.text()
    _evaluated(store, b.id, "/d/one.jsonl", 0.0, step=3)  # completed while the page is open: the tab follows
    qtbot.waitUntil(lambda: [table.item(r, 2).text() for r in range(table.rowCount()) if table.item(r, 2)
                             and table.item(r, 0).text().endswith("one.jsonl")] == ["0"], timeout=10_000)
    view.shutdown()


def test_an_evaluation_ending_during_the_pages_first_read_joins_its_tab(store, ctx, qtbot, monkeypatch) -> None:
    """The first read had read the evaluations when one more completed: the page, seeing the read under
    way, left it to that read, and the result joined the tab only when the page was opened again."""
    import threading

    from app.views import compare_view
    from app.views.runs_view import RunsView

    a = _run(store, "text-classification", {"loss": [0.9, 0.7, 0.6]}, "a")
    b = _run(store, "text-classification", {"loss": [0.8, 0.7, 0.5]}, "b")
    _evaluated(store, a.id, "/d/heldout.jsonl", 0.85, step=3)
    has_read, answer = threading.Event(), threading.Event()
    real = compare_view.read_comparison

    def held(store, run_ids):
        found = real(store, run_ids)
        has_read.set()
        answer.wait(30)
        return found

    monkeypatch.setattr(compare_view, "read_comparison", held)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    page = view.compare_page
    try:
        view.open_item([a.id, b.id])
        qtbot.waitUntil(has_read.is_set, timeout=10_000)
        _evaluated(store, b.id, "/d/heldout.jsonl", 0.7, step=3)
        metrics.add_batch(store, b.id, [("loss", 4, 0.4, time.time())])  # written after: seen, the result was too
        qtbot.waitUntil(lambda: page.charts.point_count(f"run {b.id} loss") == 4, timeout=10_000)
    finally:
        answer.set()
    table = page.eval_table
    qtbot.waitUntil(lambda: table.rowCount() == 1 and table.item(0, 2) is not None and table.item(0, 2).text() == "0.7",
                    timeout=10_000)
    view.shutdown()


def test_config_differences_name_each_runs_dataset_and_a_setting_another_recipe_lacks(store, ctx, qtbot) -> None:
    """A walk: runs on datasets lm and lm_b read "These runs use the same settings." (the frozen configs
    hold dataset ids, and the key was ignored); a causal LM's `sample_prompts: []` and a classifier's
    missing key both read "-"."""
    import yaml

    from app.views.runs_view import RunsView
    from spark_trainer.store import datasets

    lm = _run(store, "causal-lm", {"loss": [3.0]}, "lm")
    tc = _run(store, "text-classification", {"loss": [0.9]}, "tc")
    made = [datasets.create(store, "cmp", datasets.NewDataset(name=n, kind="text",
                                                               path=str(store.home.root / "datasets" / str(i))))
            for i, n in enumerate(("lm", "lm_b"))]
    with store.write() as session:  # as the run files named them when queued
        from spark_trainer.store.models import RunRow

        for run, dataset in ((lm, made[0]), (tc, made[1])):
            session.get(RunRow, run.id).dataset_id = dataset.id
    for run, recipe, section in ((lm, "causal-lm", {"sample_prompts": []}),
                                 (tc, "text-classification", {"label_column": "label"})):
        (Path(run.run_dir) / "config.yaml").write_text(yaml.safe_dump({"recipe": recipe, "recipe_config": section}))
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([lm.id, tc.id])
    table = view.compare_page.diff
    qtbot.waitUntil(lambda: table.rowCount() > 0, timeout=10_000)
    cells = {table.item(r, 0).text(): [table.item(r, c).text() for c in (1, 2)] for r in range(table.rowCount())}
    assert cells["dataset"] == ["lm", "lm_b"]
    assert cells["recipe_config.sample_prompts"] == ["[]", "(not a setting of text-classification)"]
    assert cells["recipe_config.label_column"] == ["(not a setting of causal-lm)", "label"]
    view.shutdown()


def test_comparing_many_runs_fills_no_legend_and_keeps_the_charts_up(store, window, qtbot, monkeypatch) -> None:
    """Comparing 50 runs froze the window for 6-18 s, 12 of them clearing and refilling chart legends the
    page never shows, one entry at a time; and the runs' names took 14 lines above the charts."""
    import pyqtgraph as pg

    from tests.app.model_sync import sync_model

    added: list[str] = []
    original = pg.LegendItem.addItem
    monkeypatch.setattr(pg.LegendItem, "addItem", lambda legend, item, name: (added.append(name),
                                                                               original(legend, item, name)))
    compared = [_run(store, "causal-lm", {"eval_loss": [2.0, 1.8, 1.7], "loss": [3.0, 2.5, 2.2], "lr": [1e-4] * 3},
                     name=f"experiment-{i}") for i in range(20)]
    sync_model(qtbot, window.ctx)  # the runs known: the names above the charts say their experiments
    view = window.show_view("runs")
    view.compare([r.id for r in compared])
    page = view.compare_page
    panel = page.charts
    qtbot.waitUntil(lambda: all(panel.point_count(f"run {r.id} loss") == 3 for r in compared), timeout=20_000)
    assert len(panel.charts["loss"].curve_names()) == 40
    assert added == []
    named = page.legend.text().replace("\u2060", "").replace("\u00a0", " ")
    assert all(f"run {r.id} · experiment-" in named for r in compared), named[:300]  # all there, some scrolled
    qtbot.waitUntil(lambda: page.legend_area.verticalScrollBar().maximum() > 0)
    lines = page.legend.fontMetrics().height()
    assert page.legend_area.height() <= 3 * lines + 8 < page.legend.height(), (page.legend_area.height(), lines)
    assert panel.mapTo(page, panel.rect().topLeft()).y() < 5 * lines


def _compared(store, ctx, qtbot, statuses: tuple[str, ...]):
    """The compare page of runs in `statuses` (each with ten loss points), shown once their points are read."""
    from app.views.runs_view import RunsView
    from tests.app.gui_assets import add_experiment_with_runs

    projects.create(store, "p")
    made = add_experiment_with_runs(store, "p", statuses=statuses)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([r.id for r in made])
    panel = view.compare_page.charts
    qtbot.waitUntil(lambda: all(panel.point_count(f"run {r.id} loss") == 10 for r in made), timeout=10_000)
    return view, panel


def test_charts_no_compared_run_logged_say_so_once_every_run_has_ended(store, ctx, qtbot) -> None:
    """Two completed runs that logged only their loss: their Learning rate and Gradient norm charts said
    "No points yet", waiting for points that never come (the run page says the run ended without any)."""
    from app.charts.panel import NO_POINTS_ENDED_ALL

    view, panel = _compared(store, ctx, qtbot, ("completed", "completed"))
    qtbot.waitUntil(lambda: panel.charts["lr"].empty_text == NO_POINTS_ENDED_ALL, timeout=10_000)
    assert panel.charts["grad"].empty_text == NO_POINTS_ENDED_ALL
    assert panel.charts["loss"].curve_names()  # a chart with points shows them, whatever its empty text
    view.shutdown()


def test_a_compared_run_still_training_keeps_its_empty_charts_waiting(store, ctx, qtbot) -> None:
    from app.charts.panel import NO_POINTS_YET

    view, panel = _compared(store, ctx, qtbot, ("completed", "running"))
    qtbot.wait(1500)  # a few polls
    assert panel.charts["lr"].empty_text == NO_POINTS_YET
    view.shutdown()
