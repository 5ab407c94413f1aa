"""The API fuzzed from its own OpenAPI schema (schemathesis): every operation of `/api/v1/schema/` gets
generated valid and invalid requests, in-process over WSGI, as a trader (token auth), with a bounded
number of examples. No answer may be a 5xx the operation does not document (502/503 report the broker
or a component, as documented), no view may raise, and every 2xx body must match its documented schema.

The broker side is stubbed, never the validation: the memory broker backend answers searches, syncs,
amends and cancels; the Celery tasks that would send orders (`trades.order_send`, `risk.liquidate`)
record their ids instead of queuing (and the test transaction never commits, so on-commit hooks do not
run at all).
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
import schemathesis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import response_schema_conformance

from apps.accounts.tests.factories import BalanceSnapshotFactory, BrokerAccountFactory
from apps.conditions.models import Condition
from apps.core.rediskeys import redis_key
from apps.core.security import issue_token
from apps.core.tests.factories import RuntimeFlagFactory
from apps.market.tests.factories import InstrumentFactory, MinuteBarFactory
from apps.notifications.tests.factories import ChannelFactory
from apps.trades.tests.factories import OrderFactory
from apps.trades.tests.ui_factories import TradeFactory

pytestmark = pytest.mark.django_db

# Generated requests per operation and mode (valid, invalid): ~60 operations × 2 × this many.
MAX_EXAMPLES = 6
# Redis namespaces the endpoints write (idempotency keys, liquidation runs and locks, news dedup).
REDIS_NAMESPACES = [("risk",), ("trades", "manual"), ("news",), ("strategy",)]


def _clear_redis() -> None:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        for parts in REDIS_NAMESPACES:
            keys = list(client.scan_iter(redis_key("stockagent", *parts, "*")))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def stubbed_broker_side(settings, monkeypatch) -> Iterator[list[str]]:
    """The memory broker and recorded (never queued) order/liquidation tasks."""
    from apps.risk import tasks as risk_tasks
    from apps.trades import tasks as trades_tasks

    queued: list[str] = []
    settings.BROKER_BACKEND = "memory"
    settings.KIWOOM_USE_SIMULATOR = False  # the exchange clock is the wall's: no simulator to ask
    settings.API_TOKEN_FAILURE_LIMIT = 10**6
    settings.AXES_ENABLED = False
    monkeypatch.setattr(trades_tasks.order_send, "delay", lambda *a, **k: queued.append("order"))
    monkeypatch.setattr(risk_tasks.liquidate, "delay", lambda *a, **k: queued.append("liquidate"))
    _clear_redis()
    yield queued
    _clear_redis()


@pytest.fixture
def wsgi_app() -> Iterator[object]:
    """Django's WSGI handler on the test's connection (as the test client does: a request's end would
    otherwise close the connection that holds the test transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(trader) -> dict[str, dict[str, str]]:
    """Objects for the valid requests to find (path parameters by path prefix): an account with a
    balance, a condition, the trader's channel, a live order, a trade, a stock with minute bars."""
    account = BrokerAccountFactory(account_no=django_settings.KIWOOM_ACCOUNT, is_active=True)
    BalanceSnapshotFactory(account=account)
    RuntimeFlagFactory(key="trading-enabled")
    cond = Condition.objects.create(account="5000000010", seq="001", name="급등주", active=True)
    channel = ChannelFactory(user=trader)
    instrument = InstrumentFactory(code="005930", name="삼성전자")
    MinuteBarFactory(instrument=instrument)
    order = OrderFactory(code="005930")
    trade = TradeFactory()
    return {
        "/api/v1/accounts/": {"id": str(account.pk)},
        "/api/v1/conditions/": {"id": str(cond.pk)},
        "/api/v1/notifications/channels/": {"id": str(channel.pk)},
        "/api/v1/orders/": {"id": str(order.pk)},
        "/api/v1/trades/": {"id": str(trade.pk)},
        "/api/v1/flags/": {"key": "trading-enabled"},
        "/api/v1/market/chart/": {"code": "005930"},
    }


def _existing(world: dict[str, dict[str, str]], path: str) -> dict[str, str] | None:
    for prefix, values in world.items():
        if path.startswith(prefix):
            return values
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:600]


def _documented(case, status: int) -> bool:
    return str(status) in case.operation.definition.raw.get("responses", {})


def test_api_fuzzed_from_its_schema_has_no_server_error(
    trader, world, stubbed_broker_side, wsgi_app
) -> None:
    token = issue_token(trader)
    auth = {"Authorization": f"Token {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app, headers=auth)
    failures: list[str] = []
    timings: list[tuple[float, str]] = []
    statuses: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50

    def send(case, label: str) -> None:
        cache.clear()  # the API's rate limits count per test; this one sends hundreds
        case.headers = {**(case.headers or {}), **auth}
        try:
            response = case.call()
        except Exception:
            failures.append(f"{label}: raised\n{traceback.format_exc(limit=-8)}")
            return
        status = response.status_code
        statuses[(case.operation.label, status)] += 1
        if status >= 500 and not _documented(case, status):
            failures.append(f"{label}: {status} {response.text[:300]}")
            return
        if 200 <= status < 300 or status >= 500:  # a documented 502/503 has its body too
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except (Exception, BaseExceptionGroup) as exc:  # FailureGroup: not an Exception
                failures.append(f"{label}: {status} {_describe(exc)}"[:1500])

    def sender(label: str):
        def run_case(case) -> None:
            send(case, label)

        return run_case

    for operation in operations:
        # Valid requests address objects that exist (else nearly all would be 404s).
        known = _existing(world, operation.path)
        runs: list[tuple[str, object, int]] = []
        from_examples = operation.get_strategies_from_examples(path_parameters=known)
        if from_examples:  # the documented examples (OpenApiExample), each once or twice
            runs.append(("examples", st.one_of(from_examples), 2 * len(from_examples)))
        runs.append(
            (
                "positive",
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known),
                MAX_EXAMPLES,
            )
        )
        raw = operation.definition.raw
        if raw.get("parameters") or raw.get("requestBody"):  # something to make invalid
            runs.append(("negative", operation.as_strategy(GenerationMode.NEGATIVE), MAX_EXAMPLES))
        for kind, strategy, examples in runs:
            label = f"{operation.label} ({kind})"
            started = time.perf_counter()
            run = given(case=strategy)(sender(label))
            try:
                hsettings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(run)()
            except Unsatisfiable:
                assert kind == "negative", label  # a header alone may leave nothing to negate
            except (Exception, BaseExceptionGroup) as exc:  # a generation or hypothesis error
                failures.append(f"{label}: {_describe(exc)}"[:2000])
            timings.append((time.perf_counter() - started, label))

    # With -s: what the fuzzing reached (answers by status) and the slowest operations.
    by_status = Counter()
    for (_label, status), n in statuses.items():
        by_status[status] += n
    print(f"\n{sum(by_status.values())} requests: {dict(sorted(by_status.items()))}")
    for label in sorted({label for label, _ in statuses}):
        answers = {st: n for (lb, st), n in sorted(statuses.items()) if lb == label}
        print(f"  {label}: {answers}")
    for seconds, label in sorted(timings, reverse=True)[:5]:
        print(f"{seconds:6.2f} s  {label}")
    # Nothing was queued for a real broker: on-commit hooks never ran, and the tasks are recorders.
    assert all(kind in ("order", "liquidate") for kind in stubbed_broker_side)
    unique = sorted(set(failures))
    assert unique == [], f"{len(unique)} failures:\n" + "\n\n".join(unique[:40])
