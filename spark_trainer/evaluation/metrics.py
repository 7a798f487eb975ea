"""Classification metrics with the usual definitions (those of scikit-learn and Hugging Face
`evaluate`: accuracy; per-class precision and recall; macro-F1 as the unweighted mean of per-class
F1 over the classes present in the truth or the predictions, as their default `average="macro"`
does: a class predicted but never true counts 0, a class of the model that is neither in the data
nor predicted is listed in `per_class` (support 0) but not averaged in). Written out here because
neither package is a dependency and `evaluate` fetches its metric scripts from the Hub at run time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def classification_report(truth: Sequence[str], predicted: Sequence[str],
                          labels: Sequence[str] | None = None) -> dict[str, Any]:
    if len(truth) != len(predicted) or not truth:
        raise ValueError("truth and predictions must be non-empty and of equal length")
    names = list(labels) if labels is not None else sorted(set(truth) | set(predicted))
    index = {name: i for i, name in enumerate(names)}
    matrix = [[0] * len(names) for _ in names]
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t]][index[p]] += 1
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for i, name in enumerate(names):
        tp = matrix[i][i]
        predicted_n = sum(row[i] for row in matrix)
        support = sum(matrix[i])
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or predicted_n:
            f1s.append(f1)
    correct = sum(matrix[i][i] for i in range(len(names)))
    return {"accuracy": correct / len(truth), "macro_f1": sum(f1s) / len(f1s), "per_class": per_class,
            "labels": names, "confusion_matrix": matrix}
