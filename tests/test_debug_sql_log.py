"""DEBUG logs SQL with its values, and no raw token or password ever appears in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.tokens import hash_token
from observability.logs import log_sql
from server import Runtime
from tests.conftest import PASSWORD, People
from tests.test_sessions import sign_in


@pytest.fixture
def sql_logged() -> Iterator[None]:
    log_sql(True)
    try:
        yield
    finally:
        log_sql(False)


async def test_debug_logs_statements_with_token_hashes_only(
    runtime: Runtime, people: People, sql_logged: None, caplog: pytest.LogCaptureFixture
) -> None:
    await people.user("ana@acme.test")
    with caplog.at_level("INFO", logger="sqlalchemy.engine"):
        login, viewer = await sign_in(runtime, "ana@acme.test")
        await runtime.services.sessions.logout(viewer)
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("sqlalchemy"))
    assert "SELECT" in logged and "UPDATE login_session" in logged
    assert hash_token(login.token) in logged  # values are logged: the hash is
    assert login.token not in logged
    assert PASSWORD not in logged
