"""The live WebSocket: authenticate, join the live group, forward events. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.live import LIVE_GROUP

UNAUTHORIZED_CLOSE_CODE = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHORIZED_CLOSE_CODE)
            return
        await self.channel_layer.group_add(LIVE_GROUP, self.channel_name)
        await self.accept()

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
            await self.channel_layer.group_add(LIVE_GROUP, self.channel_name)
            await self.send_json({"type": "pong"})

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
