"""Schema migrations: applied automatically when a store opens.

Alembic is imported only when the database is not already at `HEAD_REVISION`, so the common
case (an up-to-date database) costs one small query.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

from spark_trainer.errors import SchemaTooNew

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision this code knows. tests/store/test_migrations.py checks it is Alembic's head.
HEAD_REVISION = "0004"


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database, or None for a new (or pre-Alembic) database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config(engine: Engine):  # -> alembic.config.Config
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return {rev.revision for rev in script.walk_revisions()}


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision`; refuse a database newer than this code."""
    current = current_revision(engine)
    if current == HEAD_REVISION and revision == "head":
        return
    if current is not None and current not in known_revisions():
        raise SchemaTooNew(
            f"the database uses schema revision {current!r}, which is newer than this SparkTrainer "
            f"(it knows up to {HEAD_REVISION!r}); upgrade SparkTrainer or use another --home"
        )
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)
