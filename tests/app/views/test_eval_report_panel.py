"""The Evaluation tab reads every recipe's report, not only a classifier's: a diffusion run's report
(eval_loss over N images, no classes) shows its loss and count, and no empty class table or
confusion-matrix caption."""

from __future__ import annotations

from app.views.run_detail_reads import EvalReport


def test_a_diffusion_report_shows_its_loss_and_images_without_a_class_table(qtbot):
    from app.views.eval_report_panel import EvalReportPanel

    panel = EvalReportPanel()
    qtbot.addWidget(panel)
    panel.show()
    report = {"step": 40, "eval_loss": 0.3134, "images": 3, "skipped_images": []}  # as the diffusion recipe writes
    assert panel.show_report(EvalReport(report, "eval/step-00000040.json"))
    text = panel.title.text()
    assert "loss 0.313" in text and "3 validation images" in text
    assert "?" not in text and "onfusion" not in text
    assert panel.table.isHidden()


def test_a_classification_report_keeps_its_table_and_caption(qtbot):
    from app.views.eval_report_panel import EvalReportPanel

    panel = EvalReportPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.show_report(EvalReport({"step": 10, "eval_loss": 0.5, "images": 3, "skipped_images": []}, "a.json"))
    report = {"step": 10, "metrics": {"eval_accuracy": 0.75, "eval_loss": 0.5}, "labels": ["a", "b"],
              "confusion": [[1, 0], [0, 1]], "examples": 4,
              "per_class": {"a": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2},
                            "b": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}}}
    panel.show_report(EvalReport(report, "b.json"))
    assert "accuracy 0.750" in panel.title.text() and "4 validation examples" in panel.title.text()
    assert "Confusion matrix" in panel.title.text()
    assert not panel.table.isHidden() and panel.table.rowCount() == 2
    panel.show_report(None)  # another run, without a report: nothing of the last one stays
    assert panel.table.isHidden() and "Step 10" not in panel.title.text()
