"""Schema migrations: applied automatically when a store opens.

Alembic is imported only when the database is not already at `HEAD_REVISION`, so the common
case (an up-to-date database) costs two small queries (the revision, and that 0005's table is
there: see `FORKED_REVISION`).
"""

from __future__ import annotations

from glob import escape as glob_escape
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from spark_trainer.errors import SchemaTooNew

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision this code knows. tests/store/test_migrations.py checks it is Alembic's head.
HEAD_REVISION = "0012"


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


# Builds of 2026-11-30 between the two branches' merge applied 0006 straight after 0004 (0005 was
# written on another branch and put before 0006 when they met). Their databases are stamped 0006
# but lack 0005's tables, so every metric read failed with "no such table: metric_blocks".
FORKED_REVISION, FORKED_TABLE = "0005", "metric_series"
FORKED_STAMP = "0006"  # what those databases are stamped


def _has_table(engine: Engine, table: str) -> bool:
    with engine.connect() as conn:
        return inspect(conn).has_table(table)


def _repair_forked(engine: Engine) -> None:
    """Run migration 0005 on a database stamped 0006 or later without it (the stamp stays: the later
    changes are there already). Existing metrics are summarised and packed as 0005 does for every
    database."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from alembic.script import ScriptDirectory

    module = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(FORKED_REVISION).module
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        module.upgrade()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return {rev.revision for rev in script.walk_revisions()}


def backup(db_path: Path, revision: str) -> Path:
    """A consistent copy of the database (SQLite's online backup) next to it, named with the UTC
    time and the revision it holds: `sparktrainer.db.backup-20260101T120000Z-rev0002`."""
    import sqlite3
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = db_path.with_name(f"{db_path.name}.backup-{stamp}-rev{revision}")
    source = sqlite3.connect(str(db_path))
    try:
        copy = sqlite3.connect(str(target))
        try:
            source.backup(copy)
        finally:
            copy.close()
    except BaseException:
        # A copy that failed (a full disk) is no backup: left, it was the newest "backup" a restore would
        # pick, an empty or partial database, and it held the room the next try needed.
        target.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    return target


def backups(db_path: Path) -> list[Path]:
    """The copies `backup` made of the database at `db_path`, oldest first."""
    return sorted(db_path.parent.glob(f"{glob_escape(db_path.name)}.backup-*-rev*"))


def upgrade(engine: Engine, revision: str = "head", *, backup_of: Path | None = None) -> None:
    """Bring the database to `revision`; refuse a database newer than this code.

    With `backup_of` (the database file), an existing database is copied before it is migrated.
    """
    current = current_revision(engine)
    # A forked database (see FORKED_REVISION): repaired before anything else builds on it.
    forked = current is not None and current >= FORKED_STAMP and not _has_table(engine, FORKED_TABLE)
    at_head = current == HEAD_REVISION and revision == "head"
    if at_head and not forked:
        return
    if current is not None and current not in known_revisions():
        raise SchemaTooNew(
            f"the database uses schema revision {current!r}, which is newer than this SparkTrainer "
            f"(it knows up to {HEAD_REVISION!r}); upgrade SparkTrainer or use another --home"
        )
    made = backup(backup_of, current) if backup_of is not None and current is not None else None  # covers the repair too
    if forked:
        _repair_forked(engine)
        if backup_of is not None:
            _note_writing_runs(engine, backup_of)
    if at_head:
        return
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), revision)
    except BaseException:
        # The upgrade is one transaction (migrations/env.py): stopped, it left the database as the copy just
        # made holds it, so the copy goes (unless a repair above changed the database). Kept, every open
        # of the home that met a lock or a full disk added one, each the size of the database.
        if made is not None and not forked:
            made.unlink(missing_ok=True)
        raise
    if backup_of is not None and current is not None and current < FORKED_REVISION <= (current_revision(engine) or ""):
        _note_writing_runs(engine, backup_of)


def _note_writing_runs(engine: Engine, db_path: Path) -> None:
    """0005 was applied just now: runs an older worker may still be writing need their summaries
    rebuilt later (see spark_trainer.store.stale_summaries)."""
    from spark_trainer.store.stale_summaries import note_writing_runs

    with engine.connect() as conn:
        note_writing_runs(conn, db_path)
