"""Evaluation of trained runs (and their base models): perplexity, classification, multiple choice.

Jobs run in a managed worker process (jobs.py, worker.py); tasks.py maps tasks to recipes; data.py
checks the data files; metrics.py holds the classification metric definitions.
"""

from __future__ import annotations

from spark_trainer.evaluation.tasks import TASKS, metric_key

__all__ = ["TASKS", "metric_key"]
