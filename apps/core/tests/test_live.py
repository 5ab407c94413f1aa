"""The live socket over the real Redis channel layer: logged-in clients get events, anonymous are refused."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections, transaction

from apps.core.consumers import UNAUTHORIZED_CLOSE_CODE
from apps.core.live import publish_after_commit
from stockagent.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    # sync_to_async runs ORM calls on a worker thread whose connection would outlive the test database.
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    # The channel layer is process-global while every async test runs its own event loop: a consumer
    # cancelled with its loop can leave the layer's receive state behind, and the next test's teardown then
    # waits a full socket timeout for a reply that never comes. Each test gets a layer of its own.
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def _session_cookie_for(client, user) -> bytes:
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _communicator(cookie: bytes | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/live", headers=headers)


async def test_logged_in_client_receives_event_published_after_commit(client, viewer):
    cookie = await sync_to_async(_session_cookie_for)(client, viewer)
    ws = _communicator(cookie)
    connected, _ = await ws.connect()
    assert connected

    def business_action():
        with transaction.atomic():
            publish_after_commit("order", {"code": "005930", "price": 71500})

    await sync_to_async(business_action)()

    assert await ws.receive_json_from(timeout=5) == {
        "type": "order",
        "data": {"code": "005930", "price": 71500},
    }
    await ws.disconnect()


async def test_rolled_back_action_publishes_nothing(client, viewer):
    cookie = await sync_to_async(_session_cookie_for)(client, viewer)
    ws = _communicator(cookie)
    assert (await ws.connect())[0]

    def failing_action():
        try:
            with transaction.atomic():
                publish_after_commit("order", {"code": "000660"})
                raise RuntimeError("rejected")
        except RuntimeError:
            pass

    await sync_to_async(failing_action)()

    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


async def test_anonymous_socket_is_refused(settings):
    # Refusal needs no Redis: an in-memory layer keeps this test clear of a refused consumer's blocking
    # read, which pytest-asyncio's loop shutdown could not always unwind.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    ws = _communicator()
    connected, code = await ws.connect()
    assert not connected
    assert code == UNAUTHORIZED_CLOSE_CODE
    ws.future.cancel()


async def test_ping_gets_pong(client, viewer):
    cookie = await sync_to_async(_session_cookie_for)(client, viewer)
    ws = _communicator(cookie)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong"}
    await ws.disconnect()


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (b"http://localhost", b"localhost", True),
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"http://127.0.0.1:9999", b"127.0.0.1:8000", False),  # another program on the same host
        (b"http://localhost:18400", b"localhost", False),
        (b"https://127.0.0.1:8000", b"127.0.0.1:8000", False),  # https default port 443 != 8000
        (b"http://evil.test", b"evil.test", False),  # not in ALLOWED_HOSTS
        (b"null", b"localhost", False),
    ],
)
async def test_origin_must_match_host_and_port(client, viewer, origin, host, allowed, settings):
    # Origin checks need no Redis; an in-memory layer keeps a refused consumer's blocking Redis read out
    # of pytest-asyncio's loop shutdown (see test_anonymous_socket_is_refused).
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    cookie = await sync_to_async(_session_cookie_for)(client, viewer)
    ws = WebsocketCommunicator(
        application, "/ws/live", headers=[(b"origin", origin), (b"host", host), (b"cookie", cookie)]
    )
    connected, _ = await ws.connect()
    assert connected is allowed
    if connected:
        await ws.disconnect()


async def test_non_json_frames_are_ignored_and_the_socket_stays_open(client, viewer):
    cookie = await sync_to_async(_session_cookie_for)(client, viewer)
    ws = _communicator(cookie)
    assert (await ws.connect())[0]
    await ws.send_to(text_data="hello, not json")
    await ws.send_to(text_data="[" * 5000)
    await ws.send_to(bytes_data=b"\x00\x01")
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong"}  # still open, still answering
    await ws.disconnect()


async def test_idle_socket_outlives_the_layers_blocking_read(client, viewer):
    # Issue 11 #1: with redis-py 8's 5-s socket timeout the layer's 5-s BZPOPMIN timed out on a quiet
    # socket, the consumer died (1011) and the page reconnected every ~10 s. 12 s covers two reads.
    cookie = await sync_to_async(_session_cookie_for)(client, viewer)
    ws = _communicator(cookie)
    assert (await ws.connect())[0]
    await asyncio.sleep(12)
    assert await ws.receive_nothing(timeout=0.1)  # no close, no crash
    await sync_to_async(publish_after_commit)("order", {"code": "005930"})
    assert await ws.receive_json_from(timeout=5) == {"type": "order", "data": {"code": "005930"}}
    await ws.disconnect()


async def test_ping_restores_a_group_membership_redis_forgot(client, viewer):
    # A Redis restart without persistence forgets the group: the socket stays open but would be deaf.
    from channels.layers import get_channel_layer

    from apps.core.live import LIVE_GROUP

    cookie = await sync_to_async(_session_cookie_for)(client, viewer)
    ws = _communicator(cookie)
    assert (await ws.connect())[0]
    layer = get_channel_layer()
    members = await _live_group_members(layer)
    assert members
    for name in members:
        await layer.group_discard(LIVE_GROUP, name)
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong"}
    await sync_to_async(publish_after_commit)("order", {"code": "000660"})
    assert await ws.receive_json_from(timeout=5) == {"type": "order", "data": {"code": "000660"}}
    await ws.disconnect()


async def _live_group_members(layer) -> list[str]:
    from apps.core.live import LIVE_GROUP

    key = layer._group_key(LIVE_GROUP)
    connection = layer.connection(layer.consistent_hash(LIVE_GROUP))
    return [m.decode() for m in await connection.zrange(key, 0, -1)]
