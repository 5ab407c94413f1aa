"""The benches' own databases: created on the server of DATABASE_URL, dropped at the end."""

from __future__ import annotations


def ensure_database(url: str) -> bool:
    """Create the database of `url` if missing; True when it was created."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def drop_database(url: str) -> None:
    """Close Django's connections and drop the database of `url` (even with other sessions on it)."""
    import psycopg
    from django.db import connections

    connections.close_all()
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def commit_floor(url: str, n: int = 300) -> dict[str, tuple[float, float]]:
    """The database's own floor under an order's commit, in ms (p50, p99): `n` one-row
    transactions (BEGIN, INSERT, COMMIT) on a connection of their own, with a durable commit (the
    WAL flushed to disk before COMMIT returns: what every order row waits for by default) and with
    `synchronous_commit = off` (`TRADES_ORDER_ASYNC_COMMIT`). Run with nothing else measuring: the
    order benches print it beside their goal, so a slow disk is told apart from slow code."""
    import time

    import psycopg
    from _stats import nearest_rank

    out: dict[str, tuple[float, float]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        # A regular table (a temporary one's rows are not WAL-logged), dropped at the end.
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_floor (id bigserial, v text)")
        try:
            for mode in ("on", "off"):
                conn.execute(f"SET synchronous_commit = {mode}")
                times: list[float] = []
                for _ in range(n):
                    started = time.perf_counter()
                    with conn.transaction():
                        conn.execute("INSERT INTO bench_commit_floor (v) VALUES ('x')")
                    times.append((time.perf_counter() - started) * 1000)
                out["durable" if mode == "on" else "async"] = (
                    nearest_rank(times, 0.5),
                    nearest_rank(times, 0.99),
                )
        finally:
            conn.execute("DROP TABLE IF EXISTS bench_commit_floor")
    return out


def commit_floor_line(url: str) -> str:
    """`commit_floor` as the line the order benches print."""
    floor = commit_floor(url)
    durable, fast = floor["durable"], floor["async"]
    return (
        f"(f)  the database's commit floor (one-row transaction): durable p50 {durable[0]:.2f} ms "
        f"p99 {durable[1]:.2f} ms; synchronous_commit=off p50 {fast[0]:.2f} ms p99 {fast[1]:.2f} ms"
    )


def retire_orders(keep: int) -> None:
    """Only the newest `keep` bench orders stay live (the others `cancelled`), as on a trading day
    where orders fill or are cancelled: otherwise every snapshot reads all the run's orders."""
    from django.db import connection

    from apps.trades.models import OPEN_STATUSES, Order, OrderStatus

    live = [str(s) for s in (*OPEN_STATUSES, OrderStatus.NEW)]
    try:
        newest = Order.objects.filter(status__in=live).order_by("-created_at")[keep:]
        Order.objects.filter(pk__in=list(newest.values_list("pk", flat=True))).update(
            status=OrderStatus.CANCELLED
        )
    finally:
        connection.close()
