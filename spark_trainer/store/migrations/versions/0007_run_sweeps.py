"""Sweeps: a run remembers the sweep it was queued by and the values the sweep gave it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sweep", sa.String(200), nullable=True))
        batch.add_column(sa.Column("sweep_values", sa.JSON(), nullable=False, server_default="{}"))
        batch.create_index("ix_runs_sweep", ["sweep"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_sweep")
        batch.drop_column("sweep_values")
        batch.drop_column("sweep")
