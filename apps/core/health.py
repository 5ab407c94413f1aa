"""Components other apps add to the health report (`/api/v1/health`, the health page and the status strip)
without a row in `SystemStatus`: each registers a probe that says its state when the report is built.

    register_component("news", _("뉴스"), probe)   # probe(live: bool) -> (HealthStatus value, message)

`live` is the report's `probe` flag: false for the status strip on every page (answer from shared state,
no call to an outside service), true for the health endpoint and page. A probe that raises is shown as
`unknown` with the exception's name. `messages` adds patterns for showing the probe's English messages in
the reader's language (like `selectors._MESSAGE_PATTERNS`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Probe = Callable[[bool], tuple[str, str]]


@dataclass(frozen=True)
class ExtraComponent:
    name: str
    label: Any  # a lazy translation
    probe: Probe


_components: dict[str, ExtraComponent] = {}


def register_component(
    name: str,
    label: Any,
    probe: Probe,
    messages: list[tuple[re.Pattern[str], Any]] | None = None,
) -> None:
    from apps.core import selectors

    _components[name] = ExtraComponent(name, label, probe)
    for pattern in messages or []:
        if pattern not in selectors._MESSAGE_PATTERNS:
            selectors._MESSAGE_PATTERNS.append(pattern)


def extra_components() -> list[ExtraComponent]:
    return list(_components.values())
