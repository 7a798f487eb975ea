"""A metric's value as text, one way for the app's tables and the command line's lines.

Four decimals read well for losses and accuracies, but printed an eval_loss of 4.78e-05 as 0.0000, a
perfect loss to the eye, and made it look tied with 1.00e-04 (the sweep walk's Leaderboard and Runs list).
"""

from __future__ import annotations

SMALLEST_FIXED = 1e-3  # below this (and not 0) four decimals keep fewer than two significant digits


def metric_text(value: float) -> str:
    """`value` with four decimals, or three significant digits in e-notation when it is that small."""
    if value != 0 and abs(value) < SMALLEST_FIXED:
        return f"{value:.2e}"
    return f"{value:.4f}"
