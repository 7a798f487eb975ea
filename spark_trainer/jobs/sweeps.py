"""Queue a sweep (one run per combination of swept values) and read its results side by side.

`spark-trainer train --sweep`, `spark-trainer sweep show` and the setup form's sweep panel all
come here; the values are parsed and checked by `spark_trainer.config.sweep`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_trainer.config.sweep import SweepAxis, sweep_configs
from spark_trainer.errors import ConfigError
from spark_trainer.jobs.submit import Submitted, submit_configs
from spark_trainer.store import projects, runs, sweeps
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class QueuedSweep:
    name: str
    submitted: list[Submitted]  # one per combination, in order

    @property
    def runs(self) -> list[Run]:
        return [s.run for s in self.submitted]


def check_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > 200:
        raise ConfigError(f"sweep name {name!r}: give 1 to 200 characters")
    return projects.nfc(text)  # stored as projects' names are: the same name typed either way is one sweep


def queue_sweep(store: Store, data: dict[str, Any], axes: Sequence[SweepAxis], *, fixed: Sequence[str] = (),
                name: str | None = None, base_dir: Path | None = None, gpus: str | None = None,
                machine: list[int] | None = None) -> QueuedSweep:
    """Check every combination of `axes` on the run file `data`, then queue one run each.

    Raises:
        ConfigError/BadInput: one line naming the key and value (or the data, model or GPU problem);
            nothing is queued.
    """
    combos = sweep_configs(data, axes, fixed=fixed)
    configs = [config for _, config in combos]
    chosen = check_name(name) if name is not None else sweeps.next_name(store, configs[0].name)
    submitted = submit_configs(store, configs, base_dir=base_dir, gpus=gpus, machine=machine, sweep=chosen,
                               sweep_values=[values for values, _ in combos])
    return QueuedSweep(chosen, submitted)


@dataclass(frozen=True)
class SweepRow:
    rank: int | None  # None: the run has no value of the metric (yet)
    run: Run
    final: float | None  # the run's last value of the main metric
    tied: bool = False  # another run has the same value, and the same rank
    step: int | None = None  # the step of `final`: a run stopped early ranks by its value there

    @property
    def rank_text(self) -> str:
        from spark_trainer.leaderboard import rank_text

        return "-" if self.rank is None else rank_text(self.rank, self.tied)


@dataclass(frozen=True)
class SweepResult:
    name: str
    experiment: str
    keys: list[str]  # the swept settings
    metric: str  # the recipe's main metric
    higher_is_better: bool
    rows: list[SweepRow]  # ranked best first; runs without the metric last, by id
    missing: list[dict[str, Any]] = field(default_factory=list)  # combinations whose runs were deleted
    deleted: int = 0  # runs deleted: exactly, when `queued` is known; else at least this many
    queued: int | None = None  # runs the sweep queued (its plan); None: queued by an older SparkTrainer

    @property
    def counted(self) -> bool:
        """Whether `deleted` and `missing` are exact (the sweep's plan was recorded when it was queued)."""
        return self.queued is not None

    @property
    def ended_badly(self) -> list[Run]:
        """Runs that stopped without completing (failed, cancelled, paused, interrupted)."""
        waiting = {RunStatus.QUEUED, RunStatus.COMPLETED, *runs.ACTIVE}
        return [r.run for r in self.rows if r.run.status not in waiting]


def sweep_result(store: Store, name: str) -> SweepResult:
    """The sweep's runs ranked by their recipe's main metric (its last value), in the direction the
    recipe declares, and the runs deleted since it was queued. Raises NotFound for an unknown sweep."""
    from spark_trainer.leaderboard import summaries, tied_ranks
    from spark_trainer.recipes import get_recipe

    sweeps.require(store, name)
    members = runs.list_all(store, sweep=name)
    metric = get_recipe(members[0].recipe).main_metric
    found = summaries(store, [r.id for r in members], [metric.key])
    finals = {r.id: found[r.id][metric.key].last for r in members if metric.key in found.get(r.id, {})}
    at = {r.id: found[r.id][metric.key].last_step for r in members if r.id in finals}
    sign = -1.0 if metric.higher_is_better else 1.0
    scored = sorted((r for r in members if r.id in finals), key=lambda r: (sign * finals[r.id], r.id))
    ranks = tied_ranks([finals[r.id] for r in scored])
    rows = [SweepRow(place, r, finals[r.id], tied, at[r.id]) for (place, tied), r in zip(ranks, scored, strict=True)]
    rows += [SweepRow(None, r, None) for r in members if r.id not in finals]
    plan = sweeps.plan(store, name)
    keys = list(dict.fromkeys(k for values in [*(plan or []), *(r.sweep_values for r in members)] for k in values))
    if plan is not None:
        missing = unmatched_combinations(plan, members, keys)
        return SweepResult(name, members[0].experiment, keys, metric.key, metric.higher_is_better, rows,
                           missing, len(missing), len(plan))
    missing = deleted_combinations(members, keys)
    # No plan (an older SparkTrainer queued it): a lower bound. A sweep's runs are queued in one
    # transaction, so their ids are consecutive: a gap is a deleted run. Runs deleted at either end of
    # the range are known only by a combination of values other runs still have, or not at all.
    ids = [r.id for r in members]
    gaps = max(ids) - min(ids) + 1 - len(ids)
    return SweepResult(name, members[0].experiment, keys, metric.key, metric.higher_is_better, rows,
                       missing, max(gaps, len(missing)))


def _seen(values: dict[str, Any], keys: list[str]) -> str:
    import json

    return json.dumps([values.get(k) for k in keys], default=str)  # 1 and True stay apart


def unmatched_combinations(plan: Sequence[dict[str, Any]], members: Sequence[Run],
                           keys: list[str]) -> list[dict[str, Any]]:
    """The planned combinations no run of the sweep has any more, in the order they were queued."""
    from collections import Counter

    left = Counter(_seen(r.sweep_values, keys) for r in members)
    missing = []
    for combo in plan:
        if left[_seen(combo, keys)] > 0:
            left[_seen(combo, keys)] -= 1
        else:
            missing.append(dict(combo))
    return missing


def deleted_combinations(members: Sequence[Run], keys: list[str]) -> list[dict[str, Any]]:
    """For a sweep without a plan: the combinations of the swept values no run of the sweep has any
    more (a sweep queues every combination). A value whose every run was deleted is not known, so
    neither are its combinations: this is a lower bound."""
    import itertools
    import json

    axes = [list({json.dumps(r.sweep_values.get(k), default=str): r.sweep_values.get(k) for r in members}.values())
            for k in keys]
    present = {_seen(r.sweep_values, keys) for r in members}
    combos = (dict(zip(keys, values, strict=True)) for values in itertools.product(*axes))
    return [c for c in combos if _seen(c, keys) not in present]
