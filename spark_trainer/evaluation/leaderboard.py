"""Evaluation results for the leaderboard: their metric columns and base-model baseline rows.

A leaderboard shows the evaluation results of one evaluation data at a time (`EvalData`): a score
on an 18-row held-out set and one on a 1-row file are not the same quantity, and one run metric
(`evals/...`) holds them all. The data is the one asked for (`leaderboard --eval-data NAME`, the
view's "Evaluated on"), else the one most of the board's runs were evaluated on (for an `evals/...`
ranking, the one most of them have that metric on); such a ranking ranks by the results on it too (`board`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
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


OTHERS_SHOWN = 3  # other evaluation data named in a board's note; the rest are counted


@dataclass
class EvalColumns:
    """What the leaderboard adds to its ranking from evaluations (the app's view and `leaderboard` both)."""

    keys: list[str]  # evals/... metric keys, one column each
    values: dict[int, dict[str, float]]  # run id -> key -> last value (on `data`)
    baselines: list[Baseline]  # base-model baselines with values (on `data`)
    data: EvalData | None = None  # the evaluation data shown; None: no run here was evaluated
    choices: list[EvalData] = field(default_factory=list)  # every evaluation data of these runs, `data` first
    best_of: str | None = None  # set: `values` are each run's evaluation that gave its best of this key

    def others(self, shown: int = OTHERS_SHOWN) -> str:
        """The other data these runs were evaluated on, for a note ('' when none): the first `shown`,
        then how many more (22 names made three lines above the app's table, ~600 characters in a terminal)."""
        rest = [c for c in self.choices if c != self.data]
        named = ", ".join(f"{c.name} ({c.runs} run{'s' * (c.runs != 1)})" for c in rest[:shown])
        return named + (f" and {len(rest) - shown} more" if len(rest) > shown else "")


@dataclass(frozen=True)
class EvalData:
    """One evaluation data (file, folder or dataset) and how many of the board's runs were evaluated on it."""

    path: str  # the evaluations' data_path
    name: str  # as shown: an ingested dataset's name, else the file's
    runs: int


def _same(path: str) -> str:
    return str(Path(path).resolve())


def _completed(store: Store) -> list[Any]:
    return evaluations.list_all(store, status="completed")


def _with_key(store: Store, key: str) -> list[Any]:
    """The completed evaluations whose results include `key` (an `evals/...` metric)."""
    return [e for e in _completed(store)
            if key in {metric_key(e.task, k) for k in (e.result or {}).get("metrics", {})}]


def eval_data_choices(store: Store, run_ids: Iterable[int], found: list[Any] | None = None) -> list[EvalData]:
    """The data the runs (and their base models) were evaluated on: most runs first, then the newest."""
    ids = set(run_ids)
    found = [e for e in (_completed(store) if found is None else found) if e.run_id in ids]
    names = evaluations.data_names(store, found, dataset_word="")
    counted: dict[str, tuple[set[int], int, str, str]] = {}
    for e in found:
        runs_on, _newest, path, _name = counted.get(_same(e.data_path), (set(), 0, e.data_path, ""))
        counted[_same(e.data_path)] = (runs_on | ({e.run_id} if not e.base else set()), e.id, path,
                                       names.get(e.data_path, ""))
    order = sorted(counted.values(), key=lambda c: (-len(c[0]), -c[1]))
    return [EvalData(path, name or Path(path).name, len(runs_on)) for runs_on, _n, path, name in order]


def choose_eval_data(choices: list[EvalData], wanted: str | None) -> EvalData | None:
    """`wanted` (a name as shown, or a path) among `choices`; the first (most runs) when None.
    BadInput naming the choices when it is none of them."""
    if wanted is None or not choices:
        if wanted is not None:
            raise BadInput(f"--eval-data {wanted}: no run here has been evaluated yet")
        return choices[0] if choices else None
    for c in choices:
        if wanted in (c.name, c.path, Path(c.path).name) or _same(wanted) == _same(c.path):
            return c
    raise BadInput(f"--eval-data {wanted}: no run here was evaluated on it; evaluated on: "
                   + ", ".join(c.name for c in choices))


def _eval_points(store: Store, run_ids: Iterable[int], data: EvalData | None,
                 found: list[Any] | None = None) -> dict[int, dict[str, list[tuple[int, int, float]]]]:
    """Per run and evals/... key, its (non-base) evaluations' (step, evaluation id, value) on `data`."""
    ids = set(run_ids)
    points: dict[int, dict[str, list[tuple[int, int, float]]]] = {}
    if data is None:
        return points
    for e in _completed(store) if found is None else found:
        if e.base or e.run_id not in ids or _same(e.data_path) != _same(data.path):
            continue
        for k, v in (e.result or {}).get("metrics", {}).items():
            points.setdefault(e.run_id, {}).setdefault(metric_key(e.task, k), []).append((e.step or 0, e.id, float(v)))
    return points


def _best_point(key: str, values: list[tuple[int, int, float]]) -> tuple[int, int, float]:
    """The evaluation with the best value of `key` (the first by step, then id, among equal ones)."""
    from spark_trainer.leaderboard import lower_is_better

    sign = 1.0 if lower_is_better(key) else -1.0
    return min(values, key=lambda p: (sign * p[2], p[0], p[1]))


def eval_summaries(store: Store, run_ids: Iterable[int], data: EvalData | None,
                   found: list[Any] | None = None) -> dict[int, dict[str, Any]]:
    """Per run and evals/... key, a `leaderboard.MetricSummary` of its (non-base) evaluations on `data`
    only: last is the highest step's (then the newest), best over them, with the best's step."""
    from spark_trainer.leaderboard import MetricSummary

    out: dict[int, dict[str, Any]] = {}
    for run_id, per_key in _eval_points(store, run_ids, data, found).items():
        for key, values in per_key.items():
            step, _id, last = max(values)
            numbers = [v for _s, _i, v in values]
            out.setdefault(run_id, {})[key] = MetricSummary(key, last, min(numbers), max(numbers), step, len(values),
                                                            _best_point(key, values)[0])
    return out


def best_evaluation_values(store: Store, run_ids: Iterable[int], data: EvalData | None, key: str,
                           found: list[Any] | None = None) -> dict[int, dict[str, float]]:
    """Per run, the results on `data` of the evaluation that gave its best `key` (every evals/... key of
    that evaluation): the columns beside a ranking by that best value, not the run's last evaluation."""
    out: dict[int, dict[str, float]] = {}
    for run_id, per_key in _eval_points(store, run_ids, data, found).items():
        if key not in per_key:
            continue
        chosen = _best_point(key, per_key[key])[1]
        out[run_id] = {k: v for k, values in per_key.items() for _s, i, v in values if i == chosen}
    return out


def read_evaluations(store: Store, entries: Sequence[Any], project: int | str | None, *, recipe: str | None = None,
                     dataset: int | None = None, eval_data: str | None = None,
                     run_ids: Iterable[int] | None = None) -> EvalColumns:
    """The evaluation columns of ranked `entries` (leaderboard.Entry) on one evaluation data (`eval_data`,
    else the one most runs were evaluated on: `choose_eval_data`), and the baselines on it of the runs
    the same filters (`project`, `recipe`, `dataset`) keep: a causal LM's ranking has no classifier's
    columns. `run_ids`: the runs the filters keep (the data is chosen among theirs), else the entries'."""
    found = _completed(store)
    base_rows = [b for b in baselines(store, project, recipe=recipe, dataset=dataset) if b.values]
    shown = [e.run.id for e in entries]
    choices = eval_data_choices(store, list(run_ids if run_ids is not None else shown) + [b.run_id for b in base_rows],
                                found)
    data = choose_eval_data(choices, eval_data)
    values = {run: {k: s.last for k, s in per.items()} for run, per in eval_summaries(store, shown, data, found).items()}
    base_rows = [b for b in base_rows if data is not None and _same(b.data) == _same(data.path)]
    keys = sorted({k for per in values.values() for k in per} | {k for b in base_rows for k in b.values})
    if data is not None:
        choices = [data, *(c for c in choices if c != data)]
    return EvalColumns(keys, values, base_rows, data, choices)


def board(store: Store, key: str, *, project: int | str | None = None, dataset: int | None = None,
          recipe: str | None = None, use: str = "best", eval_data: str | None = None
          ) -> tuple[list[Any], EvalColumns, list[Any]]:
    """The leaderboard both the app's view and `leaderboard` show: runs ranked by `key`, their
    evaluation columns on one evaluation data, and the runs the filters keep that have no `key` (left
    out: failed, cancelled, not evaluated yet; both say how many). An `evals/...` key ranks by the
    results on that data, not by the run metric, which holds every data's results."""
    from spark_trainer.leaderboard import filtered_runs, rank

    kept = filtered_runs(store, project=project, dataset=dataset, recipe=recipe)
    candidates = [r.id for r in kept]
    if key.startswith(METRIC_PREFIX):
        if eval_data is None:  # the data most runs have `key` on: perplexity on long.txt ranked no classifier
            eval_data = next((c.path for c in eval_data_choices(store, candidates, _with_key(store, key))), None)
        evals = read_evaluations(store, [], project, recipe=recipe, dataset=dataset, eval_data=eval_data,
                                 run_ids=candidates)
        scores = eval_summaries(store, candidates, evals.data)
        entries = rank(store, key, project=project, dataset=dataset, recipe=recipe, use=use, found=scores)
    else:
        entries = rank(store, key, project=project, dataset=dataset, recipe=recipe, use=use)
    evals = read_evaluations(store, entries, project, recipe=recipe, dataset=dataset, eval_data=eval_data,
                             run_ids=candidates)
    if key.startswith(METRIC_PREFIX) and use == "best":  # the columns of the evaluation ranked, not the last one
        best = best_evaluation_values(store, [e.run.id for e in entries], evals.data, key)
        shown = {run: {**values, **best.get(run, {})} for run, values in evals.values.items()}
        if shown != evals.values:  # said only where a run's best evaluation is not its last
            evals.values, evals.best_of = shown, key
    ranked = {e.run.id for e in entries}
    return entries, evals, [r for r in kept if r.id not in ranked]


def eval_column_title(key: str, evals: EvalColumns) -> str:
    """An evaluation column's header: its metric and the data its values are on."""
    return eval_title(key, evals.data)


def eval_title(key: str, data: EvalData | None) -> str:
    """An evaluation metric named with the data its values are on: 'classification_accuracy on heldout.jsonl'."""
    short = key.removeprefix(METRIC_PREFIX)
    return f"{short} on {data.name}" if data is not None else short


@dataclass(frozen=True)
class EvalRow:
    """One evaluation metric on one evaluation data, and each compared run's last value (by step) on it."""

    key: str  # the evals/... metric
    data: EvalData
    values: list[float | None]  # per run, in the order asked; None: not evaluated on this data
    steps: list[int | None]  # the step of each value

    @property
    def title(self) -> str:
        return eval_title(self.key, self.data)


def compared_evals(store: Store, run_ids: Sequence[int]) -> list[EvalRow]:
    """What Compare shows of the runs' evaluations (the app's page and `compare` both): a row per metric
    and evaluation data, the data most of these runs were evaluated on first. Not the run metric
    `evals/...`, which holds every data's results: a 1-row file's score beside another run's 18-row one."""
    found = _completed(store)
    rows = []
    for data in eval_data_choices(store, run_ids, found):
        per_run = eval_summaries(store, run_ids, data, found)
        for key in sorted({k for per in per_run.values() for k in per}):
            got = [per_run.get(r, {}).get(key) for r in run_ids]
            rows.append(EvalRow(key, data, [None if s is None else s.last for s in got],
                                [None if s is None else s.last_step for s in got]))
    return rows


def eval_data_line(evals: EvalColumns, hint: str = "--eval-data NAME shows those") -> str:
    """Which evaluation data the columns show, and the others these runs were evaluated on ('' when
    no run was evaluated)."""
    if evals.data is None:
        return ""
    others = evals.others()
    best = (f", each run's from the evaluation that gave its best {evals.best_of.removeprefix(METRIC_PREFIX)}"
            if evals.best_of else "")
    return (f"evaluation results on {evals.data.name} ({evals.data.runs} run{'s' * (evals.data.runs != 1)}){best}"
            + (f"; also evaluated on: {others} ({hint})" if others else ""))
