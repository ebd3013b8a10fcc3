"""The API's role, seen from the database: it logs in, owns nothing, may read and write the API's
rows and nothing else; the handlers connect as it; tables of later migrations include it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from local.devdb.database import DatabaseUrls, as_role, migrated, scratch_database
from tasks_core.migrate import DEFAULT_APP_ROLE, migrate
from tests.support.api import InProcessApi


def scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    """The one value a query returns."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def fresh(server_url: str) -> Iterator[DatabaseUrls]:
    """A database of its own, migrated, for tests that change its schema."""
    with scratch_database(server_url, prefix="tasks_role") as url:
        yield migrated(url)


def test_the_role_has_no_attribute_beyond_login(database_urls: DatabaseUrls) -> None:
    with psycopg.connect(database_urls.owner) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit"
            " FROM pg_roles WHERE rolname = %s",
            (DEFAULT_APP_ROLE,),
        ).fetchone()
        assert row == (True, False, False, False, False, False, True)
        memberships = conn.execute(
            "SELECT count(*) FROM pg_auth_members WHERE member = %s::regrole", (DEFAULT_APP_ROLE,)
        ).fetchone()
        assert memberships == (0,)  # rds_iam only, on RDS


def test_the_role_owns_nothing(database_urls: DatabaseUrls) -> None:
    with psycopg.connect(database_urls.owner) as conn:
        owned = conn.execute(
            "SELECT count(*) FROM pg_shdepend WHERE refobjid = %s::regrole AND deptype = 'o'", (DEFAULT_APP_ROLE,)
        ).fetchone()
        assert owned == (0,)
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND relname IN ('users', 'tasks', 'schema_migrations')"
        ).fetchall()
        assert owners == [(conn.info.user,)]  # the owner, who ran the migrations


def test_the_role_carries_the_session_defaults(database_urls: DatabaseUrls) -> None:
    with psycopg.connect(database_urls.app) as conn:
        assert conn.info.user == DEFAULT_APP_ROLE
        settings = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout'),"
            " current_setting('lock_timeout')"
        ).fetchone()
        assert settings == ("5s", "10s", "3s")


def test_the_role_reads_and_writes_the_apis_rows(database_urls: DatabaseUrls) -> None:
    user = f"role-{secrets.token_hex(4)}"
    with psycopg.connect(database_urls.app) as conn:
        conn.execute("INSERT INTO users (id) VALUES (%s)", (user,))
        task_id = scalar(conn, "INSERT INTO tasks (user_id, title) VALUES (%s, 'x') RETURNING id", (user,))
        conn.execute("UPDATE tasks SET completed = true WHERE id = %s", (task_id,))
        assert conn.execute("SELECT completed FROM tasks WHERE id = %s", (task_id,)).fetchone() == (True,)
        # The lead's idempotent create takes its id with nextval: USAGE on the sequence.
        after = scalar(conn, "SELECT nextval(pg_get_serial_sequence('tasks', 'id'))")
        assert after > task_id
        conn.execute("DELETE FROM tasks WHERE id = %s", (task_id,))
        conn.execute("DELETE FROM users WHERE id = %s", (user,))


DENIED = {
    "truncate": "TRUNCATE tasks",
    "create table": "CREATE TABLE spare (id int)",
    "create temporary table": "CREATE TEMPORARY TABLE spare (id int)",
    "create index": "CREATE INDEX spare_idx ON tasks (title)",
    "create function": "CREATE FUNCTION spare() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "create schema": "CREATE SCHEMA spare",
    "create role": "CREATE ROLE spare",
    "create database": "CREATE DATABASE spare",
    "alter table": "ALTER TABLE tasks ADD COLUMN spare int",
    "drop table": "DROP TABLE tasks",
    "read schema_migrations": "SELECT * FROM schema_migrations",
    "write schema_migrations": "INSERT INTO schema_migrations (version) VALUES ('9999_spare')",
    "reset a sequence": "SELECT setval(pg_get_serial_sequence('tasks', 'id'), 1)",
}


@pytest.mark.parametrize("statement", DENIED.values(), ids=DENIED.keys())
def test_the_role_may_do_nothing_else(database_urls: DatabaseUrls, statement: str) -> None:
    with (
        psycopg.connect(database_urls.app, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_only_the_role_may_call_the_apis_function(database_urls: DatabaseUrls) -> None:
    # Migration 0005: PUBLIC may call a new function unless told otherwise.
    with psycopg.connect(database_urls.owner) as conn:
        callers = conn.execute(
            "SELECT coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC'), a.privilege_type"
            " FROM pg_proc p, aclexplode(p.proacl) a"
            " WHERE p.proname = 'create_task_with_key' AND a.grantee <> p.proowner"
        ).fetchall()
    assert callers == [(DEFAULT_APP_ROLE, "EXECUTE")]


def test_the_handlers_connect_as_the_role(api: InProcessApi, database_urls: DatabaseUrls) -> None:
    assert api.get("/health").status == 200  # the in-process functions keep their connection open
    with psycopg.connect(database_urls.owner) as conn:
        roles = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'tasks-api'"
        ).fetchall()
    assert roles == [(DEFAULT_APP_ROLE,)]


def test_tables_of_later_migrations_include_the_role(fresh: DatabaseUrls) -> None:
    # What a later migration does, as the owner: the role gets its rights as the table is created.
    with psycopg.connect(fresh.owner) as conn:
        conn.execute("CREATE TABLE later_things (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)")
    with psycopg.connect(fresh.app, autocommit=True) as conn:
        row_id = scalar(conn, "INSERT INTO later_things (note) VALUES ('a') RETURNING id")
        conn.execute("UPDATE later_things SET note = 'b' WHERE id = %s", (row_id,))
        assert conn.execute("SELECT note FROM later_things").fetchall() == [("b",)]
        conn.execute("SELECT nextval(pg_get_serial_sequence('later_things', 'id'))")
        conn.execute("DELETE FROM later_things")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE later_things")


def test_the_owner_cannot_be_the_apis_role(server_url: str) -> None:
    with scratch_database(server_url, prefix="tasks_role") as url:
        with psycopg.connect(url) as conn:
            owner = conn.info.user
        with pytest.raises(psycopg.errors.RaiseException, match="is the role running the migrations"):
            migrate(url, owner)


def test_a_role_that_owns_objects_is_refused(server_url: str) -> None:
    name = f"tasks_owning_{secrets.token_hex(3)}"
    with scratch_database(server_url, prefix="tasks_role") as url, psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        try:
            admin.execute(sql.SQL("CREATE SCHEMA owned AUTHORIZATION {}").format(sql.Identifier(name)))
            with pytest.raises(psycopg.errors.RaiseException, match="owns objects"):
                migrate(url, name)
            admin.execute(sql.SQL("DROP SCHEMA owned"))
            # Once it owns nothing, the same role is taken as the API's role.
            migrate(url, name)
            with psycopg.connect(as_role(url, name)) as conn:
                assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
