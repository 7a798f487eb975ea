"""Export dialog, Evaluate dialog, the run view's exports tab and the leaderboard's evaluation columns,
on a real store holding a really trained tiny LoRA run."""

from __future__ import annotations

import csv

import pytest

from app.widgets import table_texts
from spark_trainer.store import evaluations, exports
from spark_trainer.store.store import Store
from tests.export.conftest import lora_run, tiny_model  # noqa: F401 - fixtures


@pytest.fixture
def trained(lora_run, qsettings, qtbot):  # noqa: F811 - the imported fixture
    from app.context import AppContext

    home, run = lora_run
    store = Store.open(home)
    ctx = AppContext(store, qsettings, poll_gpus=False)
    yield store, ctx, run
    assert ctx.shutdown(10.0)
    store.close()


def test_export_dialog_writes_an_export_listed_in_the_run_tab(trained, qtbot, tmp_path) -> None:
    from app.views.run_exports import RunExportsWidget

    store, ctx, run = trained
    tab = RunExportsWidget(store, ctx)
    qtbot.addWidget(tab)
    tab.show_run(run)
    assert tab.export_button.isEnabled()
    dialog = tab.open_export()
    dialog.merge.setChecked(True)
    dialog.dtype.setCurrentText("fp32")
    dialog.out.setText(str(tmp_path / "merged"))
    with qtbot.waitSignal(dialog.exported, timeout=180_000) as emitted:
        dialog.start()
    qtbot.waitUntil(lambda: dialog.banner.role == "ok", timeout=5000)
    record = exports.get(store, emitted.args[0])
    assert record.options["kind"] == "merged" and (tmp_path / "merged" / "model.safetensors").is_file()
    assert str(tmp_path / "merged") in dialog.banner.text()
    assert dialog.progress.isVisible() and dialog.progress.text() == "Done"  # not an empty bar, not "100%"
    qtbot.waitUntil(lambda: tab.exports.rowCount() == 1, timeout=10_000)  # the list is re-read on the pool
    rows = table_texts(tab.exports)
    assert [str(record.id), str(run.step), "merged", "fp32", str(tmp_path / "merged"), "not pushed"] == rows[0][:6]


def test_export_dialog_refuses_a_bad_repo_id_without_starting(trained, qtbot) -> None:
    from app.views.export_dialog import ExportDialog

    store, ctx, run = trained
    dialog = ExportDialog(store, ctx, run)
    qtbot.addWidget(dialog)
    dialog.push.setChecked(True)
    dialog.repo.setText("no-slash")
    assert dialog.start() is None
    assert dialog.banner.role == "error" and "your-name/model-name" in dialog.banner.text()


def test_evaluate_dialog_runs_mcq_in_a_worker(trained, qtbot, tmp_path) -> None:
    from app.views.evaluate_dialog import EvaluateDialog

    store, ctx, run = trained
    data = tmp_path / "quiz.csv"
    with open(data, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["subject", "question", "A", "B", "C", "D", "answer"])
        writer.writerows([["s1", "q1", "1", "2", "3", "4", "A"], ["s2", "q2", "5", "6", "7", "8", "B"]])
    dialog = EvaluateDialog(store, ctx, run)
    qtbot.addWidget(dialog)
    assert [dialog.task_choice.itemData(i) for i in range(dialog.task_choice.count())] == ["perplexity", "mcq"]
    dialog.task_choice.setCurrentIndex(1)
    dialog.data.setText(str(data))
    dialog.gpus.setCurrentIndex(1)  # CPU
    with qtbot.waitSignal(dialog.finished_evaluation, timeout=240_000) as emitted:
        dialog.start()
    ev = evaluations.get(store, emitted.args[0])
    assert ev.status == "completed", ev.error
    assert dialog.banner.role == "ok" and "by subject: s1" in dialog.result.text()


def test_leaderboard_shows_evaluation_columns_and_a_baseline_row(trained, qtbot) -> None:
    from app.views.leaderboard_view import LeaderboardView

    store, ctx, run = trained
    # A file name no other test's evaluation has: two quiz.csv in two folders are named by their folders.
    ours = evaluations.create(store, run.id, task="mcq", data_path="/data/final-quiz.csv", base=False,
                              checkpoint="last", gpus=[])
    evaluations.complete(store, ours.id, step=run.step, result={"metrics": {"accuracy": 0.75}},
                         points=[("evals/mcq_accuracy", run.step, 0.75)], report_path="/evals/1.json", artifact_meta={})
    base = evaluations.create(store, run.id, task="mcq", data_path="/data/final-quiz.csv", base=True, checkpoint="base",
                              gpus=[])
    evaluations.update(store, base.id, status="completed", result={"metrics": {"accuracy": 0.25}})
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: not view.busy() and view.metric_box.count() > 0, timeout=10_000)  # read on the pool
    view.metric_box.setCurrentText("evals/mcq_accuracy")
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    headers = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    assert "mcq_accuracy\non final-quiz.csv" in headers  # results on one evaluation data at a time, named
    col = headers.index("mcq_accuracy\non final-quiz.csv")
    assert view.eval_data.currentText() == "final-quiz.csv (1 run)" and not view._eval_data_pair.isHidden()
    rows = table_texts(view.table)
    ours = next(r for r in rows if r[1] == str(run.id) and r[0] != "baseline")
    baseline = next(r for r in rows if r[0] == "baseline")
    assert ours[col] == "0.7500" and baseline[col] == "0.2500" and "base model: tiny-llama" in baseline[3]


def test_export_dialog_says_a_best_export_s_note_as_a_warning(trained, qtbot, tmp_path) -> None:
    # The command line's note when "best" cannot give the best evaluation (its step was never saved)
    # reaches the dialog's banner too, whole, as a warning rather than a plain "Exported".
    from types import SimpleNamespace

    from app.views.export_dialog import ExportDialog

    store, ctx, run = trained
    dialog = ExportDialog(store, ctx, run)
    qtbot.addWidget(dialog)
    note = ("note: the best eval_loss, 1.111 at step 2, has no checkpoint (its weights were not saved); "
            "exported the best checkpoint kept, step 1 (eval_loss 1.25)")
    done = SimpleNamespace(id=99, path=str(tmp_path / "best"))
    dialog._on_done({"export": done, "reused": False, "pushed": None, "note": note})
    assert dialog.banner.role == "warning"
    assert dialog.banner.text() == f"Exported to {tmp_path / 'best'}. Note: the best eval_loss, 1.111 at step 2, " \
                                   "has no checkpoint (its weights were not saved); exported the best checkpoint " \
                                   "kept, step 1 (eval_loss 1.25)"
    dialog._on_done({"export": done, "reused": True, "pushed": None, "note": None})
    assert dialog.banner.role == "ok" and dialog.banner.text() == f"Already exported to {tmp_path / 'best'}"
