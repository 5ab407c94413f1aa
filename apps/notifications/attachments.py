"""Files sent with a notification (an equity chart with a report), loaded by name when the message is sent.

A notification names its attachments in `data["attachments"]` as `[{"loader": NAME, "ref": ID}]`; the app
that owns the file registers a loader for NAME at start-up (`register`, in its AppConfig.ready), which
returns the file or None when it is gone. The file itself stays in its owner's table (a notification row
stays small, and the API that lists notifications never carries images).

Channels that can carry a file use it (Telegram `sendPhoto`, email attachment); the others (Slack incoming
webhooks, console) send the text alone. A digest carries no attachments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apps.notifications.backends.base import Attachment

logger = logging.getLogger(__name__)

Loader = Callable[[str], Attachment | None]
_loaders: dict[str, Loader] = {}


def register(name: str, loader: Loader) -> None:
    _loaders[name] = loader


def attachments_load(data: dict[str, Any] | None) -> tuple[Attachment, ...]:
    """The attachments a notification's data names; unknown loaders and missing files are skipped."""
    found: list[Attachment] = []
    for spec in (data or {}).get("attachments") or []:
        if not isinstance(spec, dict):
            continue
        loader = _loaders.get(str(spec.get("loader", "")))
        if loader is None:
            logger.warning("notification attachment: no loader %r", spec.get("loader"))
            continue
        try:
            item = loader(str(spec.get("ref", "")))
        except Exception:  # a broken attachment must not stop the text from going out
            logger.exception("notification attachment %r failed to load", spec.get("loader"))
            continue
        if item is not None:
            found.append(item)
    return tuple(found)
