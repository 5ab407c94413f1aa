"""`apps.core.pgpipe.Pipe`: the order path's libpq pipeline (statements, rows, errors, preparation,
an interrupted sync), on the test database over a real connection."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from django import db

from apps.core.pgpipe import Aborted, Pipe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def pipe() -> AsyncIterator[Pipe]:
    params = dict(db.connection.get_connection_params())
    params["cursor_factory"] = psycopg.AsyncCursor
    conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
    await conn.execute("CREATE TEMP TABLE pipe_t (k text PRIMARY KEY, n integer, at timestamptz)")
    piped = Pipe(conn)
    try:
        yield piped
    finally:
        piped.close()


async def _prepared(pipe: Pipe) -> list[str]:
    st = pipe.queue("SELECT array_agg(statement ORDER BY name) FROM pg_prepared_statements")
    row = await pipe.fetchone(st)
    assert row is not None
    return list(row[0] or [])


async def test_a_transaction_in_two_syncs_returns_each_statements_row(pipe: Pipe) -> None:
    at = dt.datetime(2025, 1, 15, 0, 5, tzinfo=dt.UTC)
    pipe.queue("BEGIN")
    first = pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s) RETURNING n", ["a", 1, at])
    count = pipe.queue("SELECT count(*), max(at) FROM pipe_t WHERE n >= %s", [0])
    assert await pipe.fetchone(count) == (1, at)  # one sync answers every statement before it
    assert first.done and await pipe.fetchone(first) == (1,)
    assert pipe.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s)", ["b", 2, None])
    pipe.queue("COMMIT")
    total = pipe.queue(
        "SELECT sum(n), string_agg(k, '%%' ORDER BY k) FROM pipe_t WHERE n > %s", [0]
    )
    assert await pipe.fetchone(total) == (3, "a%b")  # with parameters, `%%` is a literal `%`
    assert pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE and pipe.usable


async def test_a_statements_error_is_raised_and_the_rest_of_its_sync_is_not_run(pipe: Pipe) -> None:
    pipe.queue("BEGIN")
    pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s)", ["a", 1, None])
    dup = pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s)", ["a", 2, None])
    after = pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s)", ["c", 3, None])
    commit = pipe.queue("COMMIT")
    with pytest.raises(psycopg.errors.UniqueViolation):
        await pipe.fetchone(dup)
    with pytest.raises(Aborted):
        await pipe.fetchone(after)
    with pytest.raises(Aborted):
        await pipe.fetchone(commit)
    # The transaction is in error, not committed: roll it back; nothing of it stays.
    assert pipe.transaction_status == psycopg.pq.TransactionStatus.INERROR
    pipe.queue("ROLLBACK")
    await pipe.sync()
    count = pipe.queue("SELECT count(*) FROM pipe_t")
    assert await pipe.fetchone(count) == (0,)


async def test_statements_are_prepared_once_and_a_failed_prepare_is_not_remembered(
    pipe: Pipe,
) -> None:
    sql = "SELECT n FROM pipe_t WHERE k = %s"
    for key in ("x", "y", "z"):
        assert await pipe.fetchone(pipe.queue(sql, [key])) is None
    assert (await _prepared(pipe)).count("SELECT n FROM pipe_t WHERE k = $1") == 1
    bad = "SELECT n FROM pipe_nothing WHERE k = %s"
    for _ in range(2):  # prepared again each time: the name was never made on the server
        with pytest.raises(psycopg.errors.UndefinedTable):
            await pipe.fetchone(pipe.queue(bad, ["x"]))
    pipe.queue("CREATE TEMP TABLE pipe_nothing (k text, n integer)")
    await pipe.sync()
    assert await pipe.fetchone(pipe.queue(bad, ["x"])) is None


async def test_an_interrupted_sync_leaves_the_pipe_unusable(pipe: Pipe) -> None:
    """A task cancelled while waiting for the server: the connection's state is unknown, so the
    owner must close it (`usable` says so); nothing abandoned is sent on it again."""
    slow = pipe.queue("SELECT pg_sleep(%s)", [5])
    task: asyncio.Task[Any] = asyncio.ensure_future(pipe.fetchone(slow))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not pipe.usable
    pipe.close()
    assert pipe.conn.closed


async def test_queued_but_unsent_statements_make_the_pipe_unusable(pipe: Pipe) -> None:
    pipe.queue("BEGIN")
    pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s)", ["a", 1, None])
    assert not pipe.usable  # the owner closes it rather than send what was abandoned


async def test_a_syncs_tail_runs_after_it_and_is_read_by_drain(pipe: Pipe) -> None:
    """`sync(tail=…)` returns once the sync's own results are in; the tail (a statement of its own,
    after the sync point) runs on the server meanwhile and is read by `drain()`: until then the pipe
    is not usable."""
    pipe.queue("BEGIN")
    insert = pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s) RETURNING n", ["a", 1, None])
    pipe.queue("COMMIT")
    tail = await pipe.sync([("SELECT count(*) FROM pipe_t WHERE n >= %s", [0])])
    assert await pipe.fetchone(insert) == (1,)
    assert pipe.draining and not pipe.usable and not tail[0].done
    await pipe.drain()
    assert tail[0].row == (1,) and pipe.usable and not pipe.draining
    sent = pipe.send([("SELECT sum(n) FROM pipe_t WHERE n >= %s", [0]), ("SELECT 1/0", None)])
    assert not pipe.usable
    await pipe.drain()
    assert sent[0].row == (1,)
    assert isinstance(sent[1].error, psycopg.errors.DivisionByZero)  # kept, not raised
    assert pipe.usable and pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_the_tail_of_a_failed_transaction_fails_too_and_leaves_it_to_roll_back(
    pipe: Pipe,
) -> None:
    pipe.queue("BEGIN")
    pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s)", ["a", 1, None])
    dup = pipe.queue("INSERT INTO pipe_t VALUES (%s, %s, %s)", ["a", 2, None])
    pipe.queue("COMMIT")
    tail = await pipe.sync([("SELECT count(*) FROM pipe_t WHERE n >= %s", [0])])
    with pytest.raises(psycopg.errors.UniqueViolation):
        await pipe.fetchone(dup)
    await pipe.drain()
    assert isinstance(tail[0].error, psycopg.errors.InFailedSqlTransaction)
    assert pipe.transaction_status == psycopg.pq.TransactionStatus.INERROR
    pipe.queue("ROLLBACK")
    await pipe.sync()
    assert pipe.usable and pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE
