"""One pooled synchronous Redis client per process for the reads a page makes (the strategy engine's
heartbeat, the broker's request budget): a new client per call paid a connection's set-up on every page
(a few ms, ~10 ms on a loaded machine). Keyed by the Redis URL and the timeout; a forked child (a worker)
drops its parent's clients and opens its own."""

from __future__ import annotations

import os
import threading

import redis
from django.conf import settings

_clients: dict[tuple[int, str, float], redis.Redis] = {}
_lock = threading.Lock()


def pooled_redis(timeout: float = 1.0) -> redis.Redis:
    """The process's client for `REDIS_URL` with this socket (and connect) timeout. Never close it."""
    key = (os.getpid(), settings.REDIS_URL, timeout)
    client = _clients.get(key)
    if client is None:
        with _lock:
            if any(k[0] != key[0] for k in _clients):
                _clients.clear()  # a forked child: the parent's connections are not ours
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
                )
    return client
