"""A metric's value as text: four decimals, or e-notation where four decimals would read as zero."""

from __future__ import annotations

from spark_trainer.numbers import metric_text


def test_small_values_keep_their_digits_and_the_rest_four_decimals() -> None:
    assert metric_text(4.78e-05) == "4.78e-05" and metric_text(1.0e-04) == "1.00e-04"  # not 0.0000 and 0.0001
    assert metric_text(-3e-6) == "-3.00e-06"
    assert [metric_text(v) for v in (0.0, 0.001, 0.875, 5.10312, 179.19064)] == \
        ["0.0000", "0.0010", "0.8750", "5.1031", "179.1906"]
