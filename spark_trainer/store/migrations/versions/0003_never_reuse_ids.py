"""Ids are never reused (AUTOINCREMENT on every table); runs get a uuid and an updated_at.

A freed run id handed to a new run made that run adopt the deleted run's folder and "resume" from
its checkpoints. SQLite only promises never-reused ids with AUTOINCREMENT, which needs the table
rebuilt; each table is copied into a new one (data, indexes and constraints kept). Foreign keys
are off during the rebuild (env.py), so dropping the old tables cascades nothing.

`runs.uuid` identifies a run across databases: checkpoints carry it, and a worker resumes only
from its own run's checkpoints. `runs.updated_at` lets the GUI read only runs that changed.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Parents before children, so each copy's foreign keys point at an already rebuilt table.
TABLES = ("projects", "datasets", "experiments", "runs", "run_events", "metrics", "artifacts")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}) as batch:
            if table == "runs":
                batch.add_column(sa.Column("uuid", sa.String(32), nullable=False, server_default=""))
                batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
                batch.create_index("ix_runs_updated_at", ["updated_at"])
    conn = op.get_bind()
    for (run_id,) in conn.execute(sa.text("SELECT id FROM runs")).all():
        conn.execute(sa.text("UPDATE runs SET uuid = :u, updated_at = COALESCE(finished_at, created_at) "
                             "WHERE id = :i"), {"u": uuid.uuid4().hex, "i": run_id})


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_updated_at")
        batch.drop_column("updated_at")
        batch.drop_column("uuid")
