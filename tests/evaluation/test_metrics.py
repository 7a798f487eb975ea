"""Classification metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from spark_trainer.evaluation.metrics import classification_report


def test_report_matches_hand_computed_values() -> None:
    truth = ["cat", "cat", "cat", "dog", "dog", "bird"]
    guess = ["cat", "dog", "cat", "dog", "cat", "dog"]
    report = classification_report(truth, guess)
    assert report["labels"] == ["bird", "cat", "dog"]
    assert report["confusion_matrix"] == [[0, 0, 1], [0, 2, 1], [0, 1, 1]]
    assert report["accuracy"] == pytest.approx(3 / 6)
    cat = report["per_class"]["cat"]
    assert (cat["precision"], cat["recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    dog_f1 = 2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2)
    assert report["macro_f1"] == pytest.approx((0 + 2 / 3 + dog_f1) / 3)
    assert report["per_class"]["bird"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
