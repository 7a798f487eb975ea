"""Per-series metric summaries and packed metric blocks (years of history stay fast).

Existing points are summarised, and every series with `PACK_ROWS` or more points is packed, in
this migration (one pass over the metrics table; a backup is taken before it, as before every
migration).

Revision ID: 0005
Revises: 0006 (assigned 0005 after 0004; chained after main's 0006 when main was merged)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("packed", sa.Integer(), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_metric_series_key", "metric_series", ["key"])
    op.create_table(
        "metric_blocks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("max_step", sa.Integer(), nullable=False),
        sa.Column("ids", sa.LargeBinary(), nullable=False),
        sa.Column("steps", sa.LargeBinary(), nullable=False),
        sa.Column("wall_times", sa.LargeBinary(), nullable=False),
        sa.Column("values", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_metric_blocks_run_key_last", "metric_blocks", ["run_id", "key", "last_id"])

    from spark_trainer.store import metric_packs

    bind = op.get_bind()
    metric_packs.summarise(bind)
    metric_packs.pack_all(bind)


def downgrade() -> None:
    # Blocks go back to rows (ids kept) before the tables are dropped.
    from spark_trainer.store import metric_packs

    bind = op.get_bind()
    for run_id, key in bind.execute(sa.text("SELECT DISTINCT run_id, key FROM metric_blocks")).all():
        metric_packs.unpack(bind, run_id, key)
    op.drop_index("ix_metric_blocks_run_key_last", "metric_blocks")
    op.drop_table("metric_blocks")
    op.drop_index("ix_metric_series_key", "metric_series")
    op.drop_table("metric_series")
