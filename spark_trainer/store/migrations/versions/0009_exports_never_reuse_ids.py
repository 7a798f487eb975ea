"""Export and evaluation ids are never reused (AUTOINCREMENT), as every other table's are since 0003.

0004 made both tables without it, so SQLite gave a deleted export's id (its record goes with its run)
to the next export, and with it the default folder `exports/<id>/`: a link to the old export then
led to another model. Each table is copied into a new one (data and index kept); its sequence starts
at its highest id. Foreign keys are off during the rebuild (env.py).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("exports", "evaluations")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
