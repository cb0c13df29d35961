"""Fixtures for the store's two databases (a pytest plugin: tests/conftest.py loads it).

- `postgres`: the session's PostgreSQL server (tests/support/services.PostgresServer), started once.
  Without PostgreSQL installed the tests that need it are skipped with the reason, except when
  $CI is set: there a missing server is a failure.
- `postgres_url`: a fresh, empty database on it for one test, dropped afterwards (~50 ms);
  `postgres_database`: the same with the store's schema.
- `database`: parametrised over "sqlite" and "postgresql": an SQLite file in tmp_path, or a
  fresh PostgreSQL database that already has the store's schema (a copy of a template made once
  per session: creating the schema in each test's database took most of its time).
  Store(database) or make_app(DATABASE=database) then run on each.
"""

from __future__ import annotations

import contextlib
import itertools
import os

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.support.services import Unavailable, postgres_instance

BACKENDS = ("sqlite", "postgresql")
_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_instance())
        except Unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(f"CI is set but {exc}")
            pytest.skip(str(exc))
        yield server


def admin_engine(server):
    return create_engine(server.admin_url().replace("postgresql://", "postgresql+psycopg://", 1),
                         isolation_level="AUTOCOMMIT", poolclass=NullPool)


@contextlib.contextmanager
def fresh_database(server, template=None):
    """A new database on `server` (empty, or a copy of `template`): yields its URL, drops it after
    (its connections too)."""
    name = f"test_{os.getpid()}_{next(_databases)}"
    admin = admin_engine(server)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield server.admin_url(name)
    finally:
        # The server may be down if a test stopped it and failed before starting it again.
        with contextlib.suppress(Exception), admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_url(postgres):
    with fresh_database(postgres) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_template(postgres):
    """The name of a database with the store's schema, to be copied (never connected to meanwhile)."""
    from server.store import Store

    name = "store_template"
    with admin_engine(postgres).connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    store = Store(postgres.admin_url(name))
    store.init_schema()
    store.close()
    return name


@pytest.fixture
def postgres_database(postgres, postgres_template):
    """A fresh PostgreSQL database with the store's schema (a copy of the template)."""
    with fresh_database(postgres, postgres_template) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "runs.sqlite")
    return request.getfixturevalue("postgres_database")
