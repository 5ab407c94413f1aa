"""The live WebSocket: authenticate, join the live group, forward events. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.core.live import LIVE_GROUP

UNAUTHORIZED_CLOSE_CODE = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHORIZED_CLOSE_CODE)
            return
        await self._join()
        await self.accept()

    async def _join(self) -> None:
        # After a Redis restart the layer's pooled connections are dead, and the first command on one fails
        # (redis-py hands it out unchecked); the same call on a fresh connection succeeds. Without this retry
        # the page's first reconnect after a Redis restart was refused and it needed a second one.
        try:
            await self.channel_layer.group_add(LIVE_GROUP, self.channel_name)
        except RedisConnectionError:
            await self.channel_layer.group_add(LIVE_GROUP, self.channel_name)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(LIVE_GROUP, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # A frame that is not JSON text is ignored: it must not close the socket (1011) nor log a traceback.
        if text_data is None:
            return
        try:
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError):
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The socket is one-way (server → browser); a client ping gets a pong so it can detect stale sockets.
        # The ping also renews the group membership: a Redis restart without persistence forgets the group,
        # which would leave other sockets of this process open but deaf, and channels-redis expires a
        # membership after a day, which would silence a dashboard left open overnight.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self._join()
            await self.send_json({"type": "pong"})

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
