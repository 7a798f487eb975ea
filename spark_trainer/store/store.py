"""The Store: one SQLite database in a data home, opened with migrations applied."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from spark_trainer.errors import Conflict, StoreError
from spark_trainer.paths import DataHome, resolve_home
from spark_trainer.store import migrate
from spark_trainer.store.engine import make_engine, writer


class Store:
    """Sessions over one data home's database. Use `Store.open()`; close when done."""

    def __init__(self, home: DataHome) -> None:
        self.home = home
        self.engine = make_engine(home.db_path)
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(writer(self.engine), expire_on_commit=False)

    @classmethod
    def open(cls, home: DataHome | str | None = None, *, upgrade: bool = True) -> Store:
        """Open (creating if needed) the store in `home`, applying pending migrations."""
        data_home = home if isinstance(home, DataHome) else resolve_home(home)
        data_home.ensure()
        store = cls(data_home)
        if upgrade:
            try:
                migrate.upgrade(store.engine)
            except (OperationalError, sqlite3.Error) as exc:
                store.close()
                raise StoreError(f"cannot open database {data_home.db_path}: {exc}") from exc
            except BaseException:
                store.close()
                raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read session; nothing it does is committed."""
        with self._reads() as session:
            try:
                yield session
            except OperationalError as exc:
                raise StoreError(f"database read failed: {exc.orig}") from exc
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE): commits on success, rolls back on any error."""
        session = self._writes()
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict(f"conflicts with existing data: {exc.orig}") from exc
        except OperationalError as exc:
            session.rollback()
            raise StoreError(f"database write failed: {exc.orig}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
