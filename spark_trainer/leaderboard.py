"""Rank runs by a metric, and the config differences between runs (for the compare view).

A run's score for a key is its best value (in the direction the recipes declare for the key, see
`spark_trainer.recipes.registry.metric_spec`) or its last value. Both come from one aggregate
query, never from reading whole series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from spark_trainer.store import experiments, runs
from spark_trainer.store.entities import Run
from spark_trainer.store.models import MetricRow, RunRow
from spark_trainer.store.store import Store


def lower_is_better(key: str, recipe: str | None = None) -> bool:
    """The direction `recipe` (else any recipe, else the engine) declares for `key`."""
    from spark_trainer.recipes.registry import metric_spec

    return not metric_spec(key, recipe).higher_is_better


@dataclass(frozen=True)
class MetricSummary:
    key: str
    last: float
    minimum: float
    maximum: float
    last_step: int
    count: int

    def best(self) -> float:
        return self.minimum if lower_is_better(self.key) else self.maximum


@dataclass(frozen=True)
class Entry:
    rank: int
    run: Run
    project: str
    dataset_id: int | None
    score: float
    summary: MetricSummary


def summaries(store: Store, run_ids: Iterable[int], keys: Sequence[str] | None = None) -> dict[int, dict[str, MetricSummary]]:
    """Per run and key: last value (highest step, then latest row), min, max, last step, count."""
    ids = list(run_ids)
    if not ids:
        return {}
    with store.read() as session:
        agg = (select(MetricRow.run_id, MetricRow.key, func.min(MetricRow.value), func.max(MetricRow.value),
                      func.max(MetricRow.step), func.count(MetricRow.id), func.max(MetricRow.id))
               .where(MetricRow.run_id.in_(ids)).group_by(MetricRow.run_id, MetricRow.key))
        if keys:
            agg = agg.where(MetricRow.key.in_(list(keys)))
        rows = list(session.execute(agg))
        # SQLite documents that a bare column next to max() comes from the row holding the max:
        # the value of the newest row (points are written in step order) is the series' last.
        last_q = (select(MetricRow.run_id, MetricRow.key, MetricRow.value, func.max(MetricRow.id))
                  .where(MetricRow.run_id.in_(ids)).group_by(MetricRow.run_id, MetricRow.key))
        if keys:
            last_q = last_q.where(MetricRow.key.in_(list(keys)))
        last = {(r, k): v for r, k, v, _ in session.execute(last_q)}
    result: dict[int, dict[str, MetricSummary]] = {}
    for run_id, key, lo, hi, step, count, _ in rows:
        result.setdefault(run_id, {})[key] = MetricSummary(key, float(last[(run_id, key)]), float(lo), float(hi),
                                                          int(step), int(count))
    return result


def last_values(store: Store, run_ids: Iterable[int], keys: Sequence[str]) -> dict[int, dict[str, float]]:
    """Each run's latest value (highest step) of each key.

    One statement per few hundred runs, each value a correlated index look-up inside SQLite
    (`ix_metrics_run_key_step`), so the cost is per series, never per point, and there is no
    Python round trip per run (the first tick after start-up asks for every run ever).
    """
    ids = list(dict.fromkeys(run_ids))
    if not ids or not keys:
        return {}

    columns = [select(MetricRow.value)
               .where(MetricRow.run_id == RunRow.id, MetricRow.key == key)
               .order_by(MetricRow.step.desc(), MetricRow.id.desc()).limit(1)
               .scalar_subquery().label(f"v{i}") for i, key in enumerate(keys)]
    result: dict[int, dict[str, float]] = {}
    with store.read() as session:
        for start in range(0, len(ids), 500):  # well under SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            for run_id, *values in session.execute(select(RunRow.id, *columns).where(RunRow.id.in_(chunk))):
                found = {key: float(v) for key, v in zip(keys, values, strict=True) if v is not None}
                if found:
                    result[run_id] = found
    return result


def metric_keys(store: Store, run_ids: Iterable[int] | None = None) -> list[str]:
    """Every metric key recorded (by these runs), sorted."""
    with store.read() as session:
        query = select(MetricRow.key).distinct()
        if run_ids is not None:
            query = query.where(MetricRow.run_id.in_(list(run_ids)))
        return sorted(session.scalars(query))


def rank(
    store: Store,
    key: str,
    *,
    project: str | int | None = None,
    dataset: int | None = None,
    recipe: str | None = None,
    use: str = "best",
    descending: bool | None = None,
) -> list[Entry]:
    """Runs that recorded `key`, best first. `use` is "best" or "last"; the order follows
    `lower_is_better(key)` unless `descending` says otherwise."""
    exps = {e.id: e for e in experiments.list_all(store, project)}
    candidates = [r for r in runs.list_all(store, project=project) if r.experiment_id in exps]
    if recipe:
        candidates = [r for r in candidates if r.recipe == recipe]
    if dataset is not None:
        candidates = [r for r in candidates if exps[r.experiment_id].dataset_id == dataset]
    found = summaries(store, [r.id for r in candidates], [key])
    scored = []
    for run in candidates:
        summary = found.get(run.id, {}).get(key)
        if summary is not None:
            scored.append((summary.best() if use == "best" else summary.last, run, summary))
    high_first = (not lower_is_better(key, recipe)) if descending is None else descending
    scored.sort(key=lambda item: (-item[0] if high_first else item[0], item[1].id))
    return [
        Entry(i + 1, run, exps[run.experiment_id].project, exps[run.experiment_id].dataset_id, score, summary)
        for i, (score, run, summary) in enumerate(scored)
    ]


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"learning_rate": 1e-4}} -> {"train.learning_rate": 1e-4}."""
    flat: dict[str, Any] = {}
    for name, value in config.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def config_diff(configs: Sequence[dict[str, Any]], *, ignore: Iterable[str] = ("name", "notes")) -> dict[str, list[Any]]:
    """The dotted keys whose values differ between configs, with each config's value (None if absent)."""
    skipped = set(ignore)
    flats = [flatten(c) for c in configs]
    keys = sorted({k for flat in flats for k in flat} - skipped)
    return {k: [flat.get(k) for flat in flats] for k in keys if len({repr(flat.get(k)) for flat in flats}) > 1}


def run_config(store: Store, run: Run) -> dict[str, Any]:
    """The config a run trained with: its frozen config.yaml, else its experiment's config; in the
    current layout (a run from before seq_len/sample_prompts moved shows them in recipe_config, so a
    clone keeps them and a comparison lines them up with newer runs)."""
    from pathlib import Path

    import yaml

    from spark_trainer.config.legacy import upgrade

    frozen = Path(run.run_dir) / "config.yaml" if run.run_dir else None
    if frozen is not None and frozen.is_file():
        data = yaml.safe_load(frozen.read_text())
        if isinstance(data, dict):
            return upgrade(data)[0]
    return upgrade(dict(experiments.get(store, run.experiment_id).config))[0]
