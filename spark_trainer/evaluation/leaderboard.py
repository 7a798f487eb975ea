"""Evaluation results for the leaderboard: their metric columns and base-model baseline rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.evaluation.tasks import METRIC_PREFIX, metric_key
from spark_trainer.store import evaluations, experiments, runs
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class Baseline:
    """A base model's score on an evaluation (run through one of the runs built on it)."""

    evaluation_id: int
    run_id: int
    base_model: str
    data: str
    values: dict[str, float]
    data_name: str = ""  # what the data is called: an ingested dataset's name (its folder is a number), else the file's

    @property
    def shown_data(self) -> str:
        return self.data_name or Path(self.data).name


def eval_keys(keys: Iterable[str]) -> list[str]:
    """The evaluation metric keys among `keys` (the leaderboard shows each as a column)."""
    return sorted(k for k in keys if k.startswith(METRIC_PREFIX))


def baselines(store: Store, project: int | str | None = None, *, recipe: str | None = None,
              dataset: int | None = None) -> list[Baseline]:
    """Completed base-model evaluations, newest per (base model, task, data file) only; those run through
    a run of `project`, `recipe` and `dataset` (each when given), as the ranking filters its runs."""
    found = evaluations.list_all(store, base=True, status="completed")
    if not found:  # the usual case: no run list to read (thousands of runs, on every leaderboard read)
        return []
    exps = {e.id: e for e in experiments.list_all(store)}
    every = runs.list_all(store)
    run_ids = None
    if project is not None or recipe or dataset is not None:
        run_ids = {r.id for r in (every if project is None else runs.list_all(store, project=project))
                   if (not recipe or r.recipe == recipe)
                   and (dataset is None or r.dataset_id == dataset)}
    run_models = {r.id: exps[r.experiment_id].base_model if r.experiment_id in exps else "?" for r in every}
    newest: dict[tuple[str, str, str], Baseline] = {}
    names = evaluations.data_names(store, found, dataset_word="")  # datasets/2 is dataset 'train', not "2"
    for ev in found:
        if run_ids is not None and ev.run_id not in run_ids:
            continue
        values = {metric_key(ev.task, k): float(v) for k, v in (ev.result or {}).get("metrics", {}).items()}
        model = run_models.get(ev.run_id, "?")
        newest[(model, ev.task, ev.data_path)] = Baseline(ev.id, ev.run_id, model, ev.data_path, values,
                                                          names.get(ev.data_path, ""))
    return list(newest.values())


@dataclass
class EvalColumns:
    """What the leaderboard adds to its ranking from evaluations (the app's view and `leaderboard` both)."""

    keys: list[str]  # evals/... metric keys, one column each
    values: dict[int, dict[str, float]]  # run id -> key -> last value
    baselines: list[Baseline]  # base-model baselines with values


def read_evaluations(store: Store, entries: Sequence[Any], project: int | str | None, *, recipe: str | None = None,
                     dataset: int | None = None) -> EvalColumns:
    """The evaluation columns of ranked `entries` (leaderboard.Entry) and the baselines of the runs the
    same filters (`project`, `recipe`, `dataset`) keep: a causal LM's ranking has no classifier's columns."""
    from spark_trainer.leaderboard import last_values, metric_keys

    keys = eval_keys(metric_keys(store, [e.run.id for e in entries]))
    base_rows = [b for b in baselines(store, project, recipe=recipe, dataset=dataset) if b.values]
    keys = sorted(set(keys) | {k for b in base_rows for k in b.values})
    return EvalColumns(keys, last_values(store, [e.run.id for e in entries], keys), base_rows)
