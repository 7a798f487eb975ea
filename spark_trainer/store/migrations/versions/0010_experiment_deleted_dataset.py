"""The name of an experiment's dataset once that dataset is deleted (`dataset delete --force`).

The experiment's `dataset_id` goes to NULL with the dataset's row, so its dataset showed as "-" in
`exp show`, the leaderboard and the app's experiment list, as if it never had one. The name is kept
here when the dataset is deleted; NULL for an experiment whose dataset exists or that never had one.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("deleted_dataset", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("deleted_dataset")
