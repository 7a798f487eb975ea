"""Where a run ran: `local`, or a cluster job's scheduler and size (e.g. `torchrun 2x1`).

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Builds of 2026-11-30 on the branch that chained 0005 after 0006 stamped their databases 0005
    # with this column already added; from there 0006 has nothing left to do.
    if "ran_on" in {column["name"] for column in sa.inspect(op.get_bind()).get_columns("runs")}:
        return
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("ran_on", sa.String(80), nullable=False, server_default="local"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("ran_on")
