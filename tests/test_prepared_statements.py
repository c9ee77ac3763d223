"""PostgreSQL's prepared statements: kept from one request to the next, planned for their values in reads.

psycopg prepares a statement on its connection after five runs and forgets every one at a rollback. The
token check each API request starts with must therefore not end in one (it runs in autocommit), or the
command that follows parses and plans each of its statements again (twice the database's work per request).
Once prepared, PostgreSQL may run a statement with one generic plan: right for a command's key lookups,
far too slow for some values of a search (a business-key prefix, a day), so reads plan for their values.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine import Engine
from tests.conftest import PASSWORD, who

pytestmark = pytest.mark.postgres


def prepared_on_the_pooled_connection(engine: Engine) -> set[str]:
    with engine.reading_rows() as connection:
        return set(connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars())


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_token_check_leaves_the_prepared_statements_of_the_commands_in_place(petition: Engine) -> None:
    token = petition.sign_in("wang", PASSWORD, "127.0.0.1").token
    wang = who(petition, "wang")
    for n in range(8):  # past psycopg's threshold: the command's statements are prepared now
        petition.resolve_token(token)
        petition.start("petition_review", "qiaoyi", by=wang, business_key=f"PREP-{n}")
    before = prepared_on_the_pooled_connection(petition)
    assert any(statement.startswith("INSERT INTO process_instance") for statement in before)

    for _ in range(3):
        assert petition.resolve_token(token) is not None

    assert before <= prepared_on_the_pooled_connection(petition)


def plan_cache_mode(session_or_connection: object) -> str:
    return session_or_connection.execute(text("SHOW plan_cache_mode")).scalar_one()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_reads_plan_each_statement_for_its_values_and_commands_keep_generic_plans(engine: Engine) -> None:
    with engine.reading() as session:
        assert plan_cache_mode(session) == "force_custom_plan"
    with engine.transaction() as session:
        assert plan_cache_mode(session) == "auto"
    with engine.reading_rows() as connection:  # the token check: one key lookup
        assert plan_cache_mode(connection) == "auto"
