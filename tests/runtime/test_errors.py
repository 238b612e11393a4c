"""Which failures are transient (503 UNAVAILABLE with Retry-After) rather than internal errors (500)."""

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from vigil.runtime.errors import is_transient


@pytest.mark.parametrize("exc", [
    sa_exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")),
    sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    sa_exc.DBAPIError("COMMIT", {}, Exception("terminating connection"), connection_invalidated=True),
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),
])
def test_the_database_or_a_socket_away_is_transient(exc):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    sa_exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
    sa_exc.ProgrammingError("SELECT", {}, Exception("no such column")),
    ValueError("bug"),
    KeyError("bug"),
])
def test_bugs_and_constraint_violations_are_not(exc):
    assert not is_transient(exc)


def test_an_upstream_down_says_when_to_retry():
    import grpc
    from grpc.aio import AioRpcError, Metadata

    from vigil.runtime.errors import NotFound, Unavailable, from_rpc_error

    assert Unavailable("x").retry_after == 1.0 and NotFound("y").retry_after is None
    # A transport failure (no trailing metadata from a service): still Unavailable with its default.
    down = from_rpc_error(AioRpcError(grpc.StatusCode.UNAVAILABLE, Metadata(), Metadata(), "connection refused"))
    assert isinstance(down, Unavailable) and down.retry_after == 1.0


def test_a_driver_error_raised_unwrapped_is_transient_by_its_cause():
    # What asyncpg raises through SQLAlchemy's adapter while PostgreSQL shuts down or restarts.
    class DriverError(Exception):
        pass

    class CannotConnectNow(Exception):
        sqlstate = "57P03"

    try:
        try:
            raise CannotConnectNow("the database system is shutting down")
        except CannotConnectNow as inner:
            raise DriverError("the database system is shutting down") from inner
    except DriverError as exc:
        assert is_transient(exc)
    assert not is_transient(DriverError("syntax error"))
