"""Each run's own dataset: `runs.dataset_id`, the dataset its frozen config.yaml trains on.

An experiment names one dataset, but a run file whose data changed is ingested anew (`d-2`) and its
run queued under the same experiment: the run trains on `d-2` while the experiment says `d`. Deletes
asked the experiment, so `d-2` could be deleted under its running run while deleting `d` was refused
"in use" by it. Each run now records its dataset; a deleted dataset sets it to NULL and leaves its
name in `deleted_dataset` (as 0010 does for experiments).

Old rows are filled from the run's frozen config.yaml (`dataset: '7'`, the id submit froze), else from
its experiment's dataset (and its deleted name). The config is read with a pattern, not YAML: it is a line submit wrote.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_FROZEN = re.compile(r"^dataset:\s*['\"]?(\d+)['\"]?\s*$", re.MULTILINE)


def _frozen_dataset(run_dir: str) -> int | None:
    if not run_dir:
        return None
    try:
        found = _FROZEN.search((Path(run_dir) / "config.yaml").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    return int(found.group(1)) if found else None


def _sequence(conn: sa.Connection) -> int | None:
    return conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'runs'")).scalar()


def upgrade() -> None:
    # Rebuilds the runs table (batch mode, for the foreign key): env.py turns foreign keys off first, so
    # that dropping the old table does not cascade into metrics and events. The copy keeps AUTOINCREMENT
    # (0003: a freed run id given to a new run made it adopt the deleted run's folder) and the old table's
    # sequence: the copy's would restart at the highest id left, reusing the ids of the newest runs deleted.
    conn = op.get_bind()
    issued = _sequence(conn)
    with op.batch_alter_table("runs", recreate="always", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("dataset_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("deleted_dataset", sa.String(200), nullable=True))
        batch.create_foreign_key("fk_runs_dataset_id", "datasets", ["dataset_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_runs_dataset_id", ["dataset_id"])
    if issued is not None and (_sequence(conn) or 0) < issued:
        conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :s WHERE name = 'runs'"), {"s": issued})
        if _sequence(conn) is None:  # no row copied, so none made for the new table
            conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('runs', :s)"), {"s": issued})
    conn.execute(sa.text("UPDATE runs SET dataset_id = (SELECT experiments.dataset_id FROM experiments "
                         "WHERE experiments.id = runs.experiment_id)"))
    known = {row[0] for row in conn.execute(sa.text("SELECT id FROM datasets"))}
    for run_id, run_dir, current in conn.execute(sa.text("SELECT id, run_dir, dataset_id FROM runs")).all():
        frozen = _frozen_dataset(run_dir)
        if frozen is not None and frozen in known and frozen != current:
            conn.execute(sa.text("UPDATE runs SET dataset_id = :d WHERE id = :r"), {"d": frozen, "r": run_id})
    conn.execute(sa.text("UPDATE runs SET deleted_dataset = (SELECT experiments.deleted_dataset FROM experiments "
                         "WHERE experiments.id = runs.experiment_id) WHERE dataset_id IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table("runs", recreate="always", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_runs_dataset_id")
        batch.drop_constraint("fk_runs_dataset_id", type_="foreignkey")
        batch.drop_column("deleted_dataset")
        batch.drop_column("dataset_id")
