"""`leaderboard` and `compare`: the app's Leaderboard and Compare views, from the command line.

`leaderboard [METRIC]` ranks runs by a metric (their best or last value, in the direction the recipe
declares), filtered as the view filters, with its evaluation columns and base-model baseline rows;
`compare RUN RUN...` prints the settings that differ between runs, each metric's last value, and each
evaluation result on each evaluation data (as the Compare page's tabs show them beside its curves).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.errors import BadInput
from spark_trainer.evaluation.leaderboard import board, compared_evals, eval_column_title, eval_data_line
from spark_trainer.evaluation.tasks import METRIC_PREFIX
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.leaderboard import (
    Entry,
    compared_settings,
    default_metric,
    left_out_text,
    lower_is_better,
    metric_keys,
    mixed_recipes,
    summaries,
)
from spark_trainer.store import datasets, runs
from spark_trainer.store.store import Store


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    board = sub.add_parser("leaderboard", parents=[common],
                           help="rank runs by a metric (best or last value), as the app's Leaderboard does")
    board.add_argument("metric", nargs="?", default=None,
                       help="the metric key (default: the recipe's main metric with --recipe, else eval_loss, "
                            "else loss)")
    board.add_argument("--project", help="only this project's runs")
    board.add_argument("--dataset", help="only runs on this dataset (name or id)")
    board.add_argument("--recipe", help="only this recipe's runs")
    board.add_argument("--use", choices=("best", "last"), default="best",
                       help="rank by each run's best value (default) or its last one")
    board.add_argument("--limit", type=int, default=None, metavar="N", help="show the first N runs only")
    board.add_argument("--eval-data", default=None, metavar="NAME",
                       help="the evaluation data whose results the evaluation columns (and an evals/... ranking) "
                            "show: a dataset's or file's name (default: the one most of these runs were evaluated on)")
    board.set_defaults(handler=cmd_leaderboard)
    compare = sub.add_parser("compare", parents=[common],
                             help="the settings that differ between runs, each metric's last value, and their "
                                  "evaluation results per evaluation data")
    # Not type=int: `compare 1 abc` is refused as `run show abc` is ("no run with id 'abc'"), not by argparse.
    compare.add_argument("runs", nargs="+", metavar="RUN", help="two or more run ids")
    compare.add_argument("--samples", action="store_true", help="also each run's newest sample (the Compare page's "
                         "'Samples side by side')")
    compare.set_defaults(handler=cmd_compare)


def cmd_leaderboard(ctx: Context, args: argparse.Namespace) -> Result:
    if args.limit is not None and args.limit < 1:
        raise BadInput(f"--limit must be at least 1, got {args.limit}")
    if args.recipe:
        from spark_trainer.recipes.registry import get_recipe

        get_recipe(args.recipe)  # an unknown name is refused, not answered with an empty ranking
    store = ctx.store
    reconcile(store)
    dataset = datasets.get(store, args.dataset, args.project).id if args.dataset else None
    key = args.metric or _default_metric(ctx, args.recipe)
    if args.metric:
        _check_metric(store, args.metric)
    if key is None:
        return Result({"metric": None, "use": args.use, "higher_is_better": None, "runs": []},
                      "no run has reported metrics yet")
    entries, evals, without = board(store, key, project=args.project, dataset=dataset, recipe=args.recipe, use=args.use,
                           eval_data=args.eval_data)
    mixed = mixed_recipes(entries, key)
    if mixed:
        ctx.info(f"note: {mixed}; --recipe NAME ranks one recipe's runs")
    shown = entries[:args.limit] if args.limit else entries
    direction = "lower" if lower_is_better(key, args.recipe) else "higher"
    on = f" on {evals.data.name}" if key.startswith(METRIC_PREFIX) and evals.data else ""
    head = (f"ranked by {key}{on} ({args.use} value; {direction} is better): "
            f"{len(entries)} run{'s' * (len(entries) != 1)}")
    if left_out := left_out_text(without, key + on):
        head += f" ({left_out})"
    if line := eval_data_line(evals):
        head += "\n" + line
    names = {d.id: d.name for d in datasets.list_all(store)}
    # The view's evaluation columns (evals/... metrics on one data) and base-model baseline rows, as it reads them.
    rows = [(e.rank_text, e.run.id, e.project, e.run.experiment, e.dataset_text(names), e.run.recipe, e.score,
             e.step, e.run.status.value, *_eval_cells(evals.values.get(e.run.id, {}), evals.keys))
            for e in shown]
    if shown:
        rows += [("baseline", b.run_id, "-", f"base model: {Path(b.base_model).name}", b.shown_data, "-",
                  b.values.get(key, "-"), "-", "base", *_eval_cells(b.values, evals.keys)) for b in evals.baselines]
    columns = [eval_column_title(k, evals) for k in evals.keys]
    heads = ["rank", "run", "project", "experiment", "dataset", "recipe", key + on, "step", "status", *columns]
    text = table([_heading(h) for h in heads], rows, upper=False, empty=f"no run matching these filters has recorded {key}")
    data = [{**_entry_data(e, names), "evals": evals.values.get(e.run.id, {})} for e in shown]
    base = [{"evaluation": b.evaluation_id, "run": b.run_id, "base_model": b.base_model, "data": b.data,
             "score": b.values.get(key), "evals": b.values} for b in evals.baselines]
    return Result({"metric": key, "use": args.use, "higher_is_better": direction == "higher",  # as `sweep show`
                   "runs": data, "left_out": [{"id": r.id, "status": r.status.value} for r in without], "baselines": base,
                   "eval_data": _eval_data(evals.data), "eval_data_choices": [_eval_data(c) for c in evals.choices]},
                  head + "\n" + text)


def _eval_data(data: Any) -> dict[str, Any] | None:
    return None if data is None else {"name": data.name, "path": data.path, "runs": data.runs}


def _check_metric(store: Store, key: str) -> None:
    """A metric no run has recorded and no recipe logs is a typo (`eval-loss`): refused with the close
    ones, not ranked as 0 runs with a guessed direction. A recipe's metric no run has reached yet is fine."""
    import difflib

    from spark_trainer.recipes.registry import list_recipes

    recorded = metric_keys(store)
    declared = {spec.key for recipe in list_recipes() for spec in recipe.metrics}
    if key in recorded or key in declared or key.removeprefix(METRIC_PREFIX) != key:
        return
    close = difflib.get_close_matches(key, sorted(set(recorded) | declared), n=3)
    raise BadInput(f"leaderboard: no run has recorded a metric {key!r}"
                   + (f"; close: {', '.join(close)}" if close else "")
                   + f"; recorded: {', '.join(recorded) or 'none yet'}")


def _eval_cells(values: dict[str, float], keys: list[str]) -> list[Any]:
    return [values.get(k, "-") for k in keys]


def _default_metric(ctx: Context, recipe: str | None) -> str | None:
    if recipe:
        from spark_trainer.recipes.registry import get_recipe

        return get_recipe(recipe).main_metric.key
    return default_metric(metric_keys(ctx.store))


def _entry_data(entry: Entry, names: dict[int, str]) -> dict[str, Any]:
    return {"rank": entry.rank, "tied": entry.tied, "id": entry.run.id, "project": entry.project, "experiment": entry.run.experiment,
            "dataset": names.get(entry.dataset_id) if entry.dataset_id else None,
            "deleted_dataset": entry.deleted_dataset, "recipe": entry.run.recipe,
            "score": entry.score, "step": entry.step, "last": entry.summary.last, "last_step": entry.summary.last_step,
            "status": entry.run.status.value}


SAME_RUNS = "compare: give two or more different run ids"


def cmd_compare(ctx: Context, args: argparse.Namespace) -> Result:
    refs = list(dict.fromkeys(ref.strip() for ref in args.runs))
    if len(refs) < 2:
        raise BadInput(SAME_RUNS)
    store = ctx.store
    reconcile(store)  # a run whose worker died shows as interrupted, as in `run list`
    found = list({r.id: r for r in (runs.get(store, ref) for ref in refs)}.values())  # `1 01` is one run
    if len(found) < 2:
        raise BadInput(SAME_RUNS)
    ids = [r.id for r in found]
    diff = compared_settings(store, found)
    last = summaries(store, ids)
    # Not evals/...: that run metric holds every evaluation data's results; they are shown per data below.
    keys = sorted({k for per_run in last.values() for k in per_run if not k.startswith(METRIC_PREFIX)})
    columns = [f"run {r}" for r in ids]
    settings_text = table(["setting", *columns], [(row.key, *row.texts) for row in diff],
                          empty="the runs' settings are the same")
    values = {k: [s.last if (s := last.get(r, {}).get(k)) else None for r in ids] for k in keys}
    metric_rows = [(k, *("-" if v is None else v for v in per_run)) for k, per_run in values.items()]
    metrics_text = table(["metric (last)", *columns], metric_rows, empty="no run here has reported metrics")
    evals = compared_evals(store, ids)
    evals_text = table(["evaluation (last by step)", *columns],
                       [(e.title, *("-" if v is None else v for v in e.values)) for e in evals],
                       empty="no run here has been evaluated")
    heading = "  ".join(f"run {r.id}: {r.experiment} ({r.recipe}, {r.status.value})" for r in found)
    data = {"runs": [{"id": r.id, "experiment": r.experiment, "recipe": r.recipe, "status": r.status.value}
                     for r in found],
            "settings": {row.key: row.values for row in diff},
            "metrics": values,
            "evals": [{"metric": e.key, "data": _eval_data(e.data), "title": e.title, "values": e.values,
                       "steps": e.steps} for e in evals]}
    text = f"{heading}\n\n{settings_text}\n\n{metrics_text}\n\n{evals_text}"
    if args.samples:
        newest = _newest_samples(store, ids)
        data["samples"] = newest
        text += "\n\n" + "\n\n".join(
            f"run {r}: " + ("no samples yet" if s is None else f"sample at step {s['step']}\n{s['text']}")
            for r, s in zip(ids, newest, strict=True))
    return Result(data, text)


def _newest_samples(store: Any, ids: list[int]) -> list[dict[str, Any] | None]:
    """Each run's newest sample (step, path, its items and them as text), or None: what the Compare page
    lays side by side."""
    from dataclasses import asdict

    from spark_trainer.jobs.run_samples import run_samples, sample_text

    found = [run_samples(store, r, limit=1) for r in ids]
    return [{"step": s[0].step, "path": s[0].path, "text": sample_text(s[0]), "items": [asdict(i) for i in s[0].items]}
            if s else None for s in found]


def _heading(text: str) -> str:
    """A column's heading upper-cased as the table's, but for the data named after " on ": a file's
    name is as it is on disk (it said MCQ_ACCURACY ON Q.CSV for q.csv)."""
    metric, on, data = text.partition(" on ")
    return metric.upper() + (f" on {data}" if on else "")
