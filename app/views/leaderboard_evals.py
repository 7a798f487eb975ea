"""The leaderboard's evaluation columns (one per `evals/...` metric) and base-model baseline rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from app.views.table_models import NAME_WIDTH_PX, Column
from spark_trainer.evaluation.leaderboard import EvalColumns, eval_column_title
from spark_trainer.leaderboard import rank_text
from spark_trainer.numbers import metric_text

MUTED = "#6e7681"
NAME_COLUMNS = ("Project", "Experiment", "Dataset")


class BoardRow(NamedTuple):
    """One leaderboard row: a ranked run, or a base-model baseline (`baseline` set)."""

    cells: tuple[Any, ...]  # the leaderboard's own columns, as values (floats shown with 4 decimals)
    evals: dict[str, float]  # evals/... key -> last value
    run_id: int
    baseline: Any = None  # evaluation.leaderboard baseline
    tied: bool = False  # its score is another run's too: its rank reads "=1"


def cell_text(value: object) -> str:
    return metric_text(value) if isinstance(value, float) else str(value)


def evaluation_columns(evals: EvalColumns) -> list[Column]:
    """One column per evaluation metric (its key without "evals/", and on a second line the data its values
    are on: on one line, two such columns ran past a 1280-pixel window)."""
    return [Column(eval_column_title(k, evals).replace(" on ", "\non ", 1), lambda r, k=k: "-" if r.evals.get(k) is None else metric_text(r.evals[k]),
                   sort=lambda r, k=k: r.evals.get(k), colour=_muted, tip=_baseline_tip) for k in evals.keys]


def baseline_rows(evals: EvalColumns, key: str) -> list[BoardRow]:
    """The base-model rows shown below the ranked runs, scored on `key` where evaluated."""
    rows = []
    for b in evals.baselines:
        score = b.values.get(key)
        cells = ("baseline", b.run_id, "-", f"base model: {Path(b.base_model).name}", b.shown_data, "-",
                 "-" if score is None else float(score), "-", "-", "base")
        rows.append(BoardRow(cells, dict(b.values), b.run_id, b))
    return rows


def _muted(row: BoardRow) -> str | None:
    return MUTED if row.baseline is not None else None


def _baseline_tip(row: BoardRow) -> str | None:
    b = row.baseline
    return None if b is None else f"the base model evaluated through run {b.run_id} (evaluation {b.evaluation_id})"


def rank_column() -> Column:
    """The Rank column: a tied run's rank reads "=1" (sorted as 1)."""
    plain = board_column("Rank", 0)
    return Column("Rank", lambda r: rank_text(r.cells[0], r.tied) if r.tied else cell_text(r.cells[0]),
                  sort=plain.sort, colour=_muted,
                  tip=lambda r: _baseline_tip(r) or ("tied: another run has the same score" if r.tied else None))


def board_column(title: str, index: int) -> Column:
    """One of the leaderboard's own columns: `index` into BoardRow.cells; numbers sort as numbers. The
    names (project, experiment, dataset) are capped in width; a cut one is whole in its tooltip."""
    named = title in NAME_COLUMNS
    return Column(title, lambda r: cell_text(r.cells[index]),
                  sort=lambda r: r.cells[index] if isinstance(r.cells[index], (int, float)) else str(r.cells[index]),
                  colour=_muted, tip=(lambda r: _baseline_tip(r) or cell_text(r.cells[index])) if named else _baseline_tip,
                  widest=NAME_WIDTH_PX if named else None)
