"""Sweep plans: a sweep records, when it is queued, every combination of its values.

`sweep show` inferred a sweep's deleted runs from gaps in the run ids and the values the runs left
still had: a 2x2 sweep with two runs deleted said "of 3 queued; 1 deleted", and a one-setting sweep
whose last run was deleted said nothing. A new table holds each sweep's combinations (its size is
their count). Existing runs and sweeps are kept as they are; sweeps queued before have no plan, and
`sweep show` says their deleted runs are inferred.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep_plans",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("combinations", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sweep_plans")
