"""Rank runs by a metric, and the config differences between runs (for the compare view).

A run's score for a key is its best value (in the direction the recipes declare for the key, see
`spark_trainer.recipes.registry.metric_spec`) or its last value. Both come from the per-series
summary rows the store keeps, never from reading points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from spark_trainer.store import experiments, runs
from spark_trainer.store.entities import Run, dataset_text
from spark_trainer.store.models import MetricSeriesRow as S
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
    best_step: int | None = None  # the step of best(); None: not read (the series' points say, `rank`)

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
    deleted_dataset: str | None = None  # the run's dataset's name, once it was deleted
    step: int | None = None  # the step of `score`: where the best value was measured, or the last step
    tied: bool = False  # another run has the same score, and the same rank

    @property
    def rank_text(self) -> str:
        return rank_text(self.rank, self.tied)

    def dataset_text(self, names: dict[int, str]) -> str:
        """Its dataset as the board shows it (`names`: id -> name): a name, "NAME (deleted)" or "-"."""
        return dataset_text(self.dataset_id, self.deleted_dataset, names) or "-"


def tied_ranks(scores: Sequence[float]) -> list[tuple[int, bool]]:
    """Ranks of scores sorted best first: equal scores share the first's rank ("1, =2, =2, 4"), and
    say they are tied; runs 17 and 19, both 1.0, were ranked 1 and 2 by their ids, unsaid."""
    out: list[tuple[int, bool]] = []
    for i, score in enumerate(scores):
        shared = i > 0 and score == scores[i - 1]
        out.append((out[-1][0] if shared else i + 1, shared or (i + 1 < len(scores) and score == scores[i + 1])))
    return out


def rank_text(rank: int, tied: bool) -> str:
    """A rank as the leaderboard and `sweep show` print it: "=1" when tied."""
    return f"={rank}" if tied else str(rank)


def summaries(store: Store, run_ids: Iterable[int], keys: Sequence[str] | None = None) -> dict[int, dict[str, MetricSummary]]:
    """Per run and key: last value (highest step, then newest point), min, max, last step, count.

    Read from the per-series summaries the store keeps up to date on every write
    (`metric_packs`), so the cost is per series, never per point.
    """
    ids = list(dict.fromkeys(run_ids))
    result: dict[int, dict[str, MetricSummary]] = {}
    with store.read() as session:
        for start in range(0, len(ids), 500):  # well under SQLite's bound-parameter limit
            query = (select(S.run_id, S.key, S.last_value, S.min_value, S.max_value, S.last_step, S.count)
                     .where(S.run_id.in_(ids[start:start + 500])))
            if keys:
                query = query.where(S.key.in_(list(keys)))
            for run_id, key, last, lo, hi, step, count in session.execute(query):
                if last is None:  # only NaN points
                    continue
                result.setdefault(run_id, {})[key] = MetricSummary(
                    key, float(last), float(lo if lo is not None else last), float(hi if hi is not None else last),
                    int(step), int(count))
    return result


def last_values(store: Store, run_ids: Iterable[int], keys: Sequence[str]) -> dict[int, dict[str, float]]:
    """Each run's latest value (highest step) of each key: one summary row per series."""
    if not keys:
        return {}
    return {run_id: {key: s.last for key, s in found.items()}
            for run_id, found in summaries(store, run_ids, keys).items()}


def metric_keys(store: Store, run_ids: Iterable[int] | None = None) -> list[str]:
    """Every metric key recorded (by these runs), sorted."""
    with store.read() as session:
        query = select(S.key).distinct()
        if run_ids is not None:
            query = query.where(S.run_id.in_(list(run_ids)))
        return sorted(session.scalars(query))


def default_metric(keys: Sequence[str]) -> str | None:
    """The metric a ranking shows when none is chosen: eval_loss, else loss, else the first key.

    The Leaderboard view and `spark-trainer leaderboard` both ask here, so they open on the same metric.
    """
    return next((k for k in ("eval_loss", "loss") if k in keys), keys[0] if keys else None)


def filtered_runs(store: Store, *, project: str | int | None = None, dataset: int | None = None,
                  recipe: str | None = None, exps: dict[int, Any] | None = None) -> list[Run]:
    """The runs a leaderboard's filters keep (those of an experiment of `project`, on `dataset`, of `recipe`)."""
    exps = {e.id: e for e in experiments.list_all(store, project)} if exps is None else exps
    candidates = [r for r in runs.list_all(store, project=project) if r.experiment_id in exps]
    if recipe:
        candidates = [r for r in candidates if r.recipe == recipe]
    if dataset is not None:
        candidates = [r for r in candidates if r.dataset_id == dataset]  # the run's own, maybe not its experiment's
    return candidates


def rank(
    store: Store,
    key: str,
    *,
    project: str | int | None = None,
    dataset: int | None = None,
    recipe: str | None = None,
    use: str = "best",
    descending: bool | None = None,
    found: dict[int, dict[str, MetricSummary]] | None = None,
) -> list[Entry]:
    """Runs that recorded `key`, best first. `use` is "best" or "last"; the order follows
    `lower_is_better(key)` unless `descending` says otherwise. `found`: the runs' summaries to rank
    by instead of their metric series (evaluation results on one data, `evaluation.leaderboard.board`)."""
    exps = {e.id: e for e in experiments.list_all(store, project)}
    candidates = filtered_runs(store, project=project, dataset=dataset, recipe=recipe, exps=exps)
    if found is None:
        found = summaries(store, [r.id for r in candidates], [key])
    lower = lower_is_better(key)  # MetricSummary.best's direction, looked up once
    scored = []
    for run in candidates:
        summary = found.get(run.id, {}).get(key)
        if summary is not None:
            best = summary.minimum if lower else summary.maximum
            scored.append((best if use == "best" else summary.last, run, summary))
    high_first = (not lower_is_better(key, recipe)) if descending is None else descending
    scored.sort(key=lambda item: (-item[0] if high_first else item[0], item[1].id))
    steps = _score_steps(store, key, use, scored)
    ranks = tied_ranks([score for score, _run, _s in scored])
    return [
        Entry(place, run, exps[run.experiment_id].project, run.dataset_id, score, summary, run.deleted_dataset,
              steps.get(run.id, summary.last_step), tied)
        for (place, tied), (score, run, summary) in zip(ranks, scored, strict=True)
    ]


def _score_steps(store: Store, key: str, use: str, scored: list[tuple[float, Run, MetricSummary]]) -> dict[int, int]:
    """Per run, the step its score was measured at: under "best" not the last step (run 13's best
    accuracy, 0.875, was at step 100, shown as step 200, where it was 0.7917)."""
    if use != "best":
        return {}
    steps = {run.id: s.best_step for _score, run, s in scored if s.best_step is not None}
    wanted = [(run.id, key, score) for score, run, s in scored if s.best_step is None]
    if wanted:
        from spark_trainer.store import metrics

        steps.update({run_id: step for (run_id, _k), step in metrics.best_steps(store, wanted).items()})
    return steps


def mixed_recipes(entries: Sequence[Entry], key: str) -> str | None:
    """Said when a ranking holds runs of several recipes: a loss of a causal LM and one of a
    classifier are different quantities (the app and `leaderboard` say it beside the ranking)."""
    found = sorted({e.run.recipe for e in entries})
    if len(found) < 2:
        return None
    return f"these runs come from {len(found)} recipes ({', '.join(found)}): their {key} values may not be comparable"


def left_out_text(without: Sequence[Run], key: str) -> str:
    """What a ranking says of the runs its filters keep that have no `key`: "3 without eval_loss left
    out: 2 failed, 1 cancelled" ('' when none); they were left out unsaid."""
    if not without:
        return ""
    counts: dict[str, int] = {}
    for run in without:
        counts[run.status.value] = counts.get(run.status.value, 0) + 1
    return (f"{len(without)} run{'s' * (len(without) != 1)} without {key} left out: "
            + ", ".join(f"{n} {status}" for status, n in counts.items()))


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


@dataclass(frozen=True)
class SettingRow:
    """A setting that differs between compared runs."""

    key: str  # dotted: "train.learning_rate"
    values: list[Any]  # per run, as its config has it; None also where its config lacks the key
    texts: list[str]  # per run, as shown: "[]" and "(not a setting of causal-lm)" apart, not both "-"


COMPARE_IGNORES = ("name", "notes", "project")  # said in each page's heading, or not a setting


def compared_settings(store: Store, found: Sequence[Run]) -> list[SettingRow]:
    """The settings that differ between runs, as Compare shows them (the app's page and `compare`).

    A frozen config names its dataset by id, so the runs' own datasets are compared by name instead
    ("NAME (deleted)" once deleted; two datasets of one name are told apart by id): ignoring the key,
    as both did, said two runs on different data used the same settings. A key one run's config lacks
    (another recipe's setting) is said so, not shown as "-" beside an empty list's "-"."""
    from spark_trainer.store import datasets

    names = {d.id: d.name for d in datasets.list_all(store)}
    shown = {r.id: r.dataset_text(names) for r in found}
    twins = {text for text in shown.values() if text is not None
             and len({r.dataset_id for r in found if shown[r.id] == text}) > 1}
    flats = []
    for run in found:
        flat = {k: v for k, v in flatten(run_config(store, run)).items() if k not in COMPARE_IGNORES}
        if run.dataset_id is not None or run.deleted_dataset:  # else the config's own value (an old run's path)
            text = shown[run.id]
            flat["dataset"] = f"{text} (id {run.dataset_id})" if text in twins and run.dataset_id else text
        elif str(flat.get("dataset", "")).isdigit():  # a frozen config's id whose dataset is gone
            flat["dataset"] = f"id {flat['dataset']} (deleted)"
        flats.append(flat)
    several = len({r.recipe for r in found}) > 1
    rows = []
    for key in sorted({k for flat in flats for k in flat}):
        if len({repr(flat.get(key, _ABSENT)) for flat in flats}) < 2:
            continue
        texts = [setting_text(flat[key]) if key in flat else
                 f"(not a setting of {run.recipe})" if several else "(not set)"
                 for flat, run in zip(flats, found, strict=True)]
        rows.append(SettingRow(key, [flat.get(key) for flat in flats], texts))
    return rows


_ABSENT = object()


def setting_text(value: Any) -> str:
    """A setting's value as Compare shows it: lists and mappings as JSON ("[]", not "-"), None "-"."""
    import json

    if value is None:
        return "-"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def run_config(store: Store, run: Run) -> dict[str, Any]:
    """The config a run trained with: its frozen config.yaml, else its experiment's config; in the
    current layout (a run from before seq_len/sample_prompts moved shows them in recipe_config, so a
    clone keeps them and a comparison lines them up with newer runs), with the values that kept its
    behaviour for settings it predates (a clone of it trains as it did)."""
    import yaml

    from spark_trainer.config.legacy import upgrade, with_frozen_defaults
    from spark_trainer.jobs.extend import frozen_config_path

    frozen = frozen_config_path(run) if run.run_dir else None
    if frozen is not None and frozen.is_file():
        data = yaml.safe_load(frozen.read_text())
        if isinstance(data, dict):
            return with_frozen_defaults(upgrade(data)[0])[0]
    return with_frozen_defaults(upgrade(dict(experiments.get(store, run.experiment_id).config))[0])[0]
