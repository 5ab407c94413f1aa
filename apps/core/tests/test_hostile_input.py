"""Hostile input never causes a server error: every endpoint and page (listed from the URL resolver) gets a
generated list of hostile query strings, path values and bodies, as anonymous, viewer and trader; every
answer must be below 500."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.conditions.models import Condition
from apps.core.tests.factories import RuntimeFlagFactory
from apps.notifications.tests.factories import ChannelFactory, SlackChannelFactory

BIG = "9223372036854775808"  # 2**63: one past a PostgreSQL bigint
DEEP = "[" * 10_000 + "]" * 10_000

# Values for every query parameter the views read (and a few they do not).
PARAMS = [
    "page", "page_size", "limit", "offset", "since", "until", "date", "code", "kind", "status",
    "p", "o", "q", "next", "language",
]  # fmt: skip
VALUES = [
    BIG, "-1", "0", "1e309", "9999-12-31", "0001-01-01", "9999-12-31T23:59:59+14:00",
    "2025-02-30", "\x00", "%00", "' OR 1=1 --", "<script>", "x" * 5000, "١٢٣", "NaN", "[]",
]  # fmt: skip
PATH_VALUES = [BIG, "0", "-1", "\x00", "a\x00b", "x" * 300, "%FF", "..%2F..%2Fetc"]
BODIES: list[tuple[str, bytes | str]] = [
    (
        "application/json",
        json.dumps({"name": "renamed"}),
    ),  # a plain PATCH of a console/email channel
    ("application/json", DEEP),
    ("application/json", '{"a": ' * 5000 + "1" + "}" * 5000),
    ("application/json", "{not json"),
    ("application/json", b"\xff\xfe\x00"),
    ("application/json", "[]"),
    ("application/json", "null"),
    ("application/json", json.dumps({"enabled": BIG, "realtime": "yes", "active": None})),
    ("application/json", json.dumps({"kind": "console", "secret": None, "target": None})),
    ("application/json", json.dumps({"kind": "email", "name": "\x00", "event_kinds": "x"})),
    ("application/json", json.dumps({"quiet_start": "25:99", "min_interval_seconds": BIG})),
    ("application/json", json.dumps({"name": "x" * 100_000})),
    ("application/x-www-form-urlencoded", "enabled=\x00&reason=" + "x" * 5000),
    ("application/x-www-form-urlencoded", "kind=slack&secret=http://127.0.0.1:1/&name=a"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
]


def _concrete_paths(ids: dict[str, list[str]]) -> list[str]:
    """Every URL pattern of the project with its converters filled with real ids and hostile values."""
    paths: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + route)
            elif isinstance(p, URLPattern):
                full = prefix + route
                if full.startswith("^") or "(?P" in full:
                    continue  # a regex route (the admin's app index): reached through the others
                names = re.findall(r"<(?:(\w+):)?(\w+)>", full)
                if not names:
                    paths.append("/" + full)
                    continue
                _conv, name = names[0]
                for value in ids.get(name, ["1"]) + PATH_VALUES:
                    filled = re.sub(r"<(?:\w+:)?\w+>", value, full)
                    paths.append("/" + filled)

    walk(get_resolver().url_patterns, "")
    return sorted(set(paths))


@pytest.fixture
def world(trader, viewer):
    slack = SlackChannelFactory(user=viewer)
    console = ChannelFactory(user=viewer, kind="console")
    email = ChannelFactory(user=trader, kind="email", target="t@example.test")
    cond = Condition.objects.create(account="5000000010", seq="001", name="급등주", active=True)
    flag = RuntimeFlagFactory(key="trading-enabled")
    ids = [str(o.pk) for o in (slack, console, email, cond)]
    return {
        "pk": ids,
        "key": [flag.key],
        "code": ["005930"],
        "object_id": [str(trader.pk)],
        "app_label": ["auth"],
    }


# Values for the parameters the views parse one by one (dates, pages).
SINGLE_VALUES = [BIG, "-1", "9999-12-31", "0001-01-01", "2025-02-30", "\x00", "NaN", "1e309"]


def _hostile_requests(client: Client, path: str) -> list[tuple[str, dict]]:
    """The requests a logged-in user sends to a plain path. Every hostile value goes to a page that
    renders (its GET answers 2xx/4xx-with-content: a view that reads its parameters); a path whose
    plain GET is a redirect, 404 or 405 gets a few. Every body goes with every method the view takes;
    a method it answers 405 (with the first body) gets no more."""
    requests: list[tuple[str, dict]] = []
    first = client.get(path)
    if first.status_code in (301, 302, 404, 405):
        requests += [
            ("get", {"path": path, "data": dict.fromkeys(PARAMS, v)}) for v in (BIG, "\x00")
        ]
    else:
        # Each hostile value in every parameter at once, then one parameter at a time.
        requests += [("get", {"path": path, "data": dict.fromkeys(PARAMS, v)}) for v in VALUES]
        requests += [("get", {"path": path, "data": {param: v}})
                     for param in ("since", "until", "date", "page")
                     for v in SINGLE_VALUES]  # fmt: skip
    for method in ("post", "patch", "put", "delete"):
        ctype, body = BODIES[0]
        probe = getattr(client, method)(path=path, data=body, content_type=ctype)
        if probe.status_code >= 500 and probe.status_code not in (502, 503):
            requests.append((method, {"path": path, "data": body, "content_type": ctype}))
        if probe.status_code == 405:
            continue
        requests += [(method, {"path": path, "data": b, "content_type": c}) for c, b in BODIES[1:]]
    return requests


# One test per role and third of the paths, so each has its own time limit (a whole role is some
# 12,000 requests: close to the five-minute limit on a slow machine); an anonymous request is answered
# by the authentication check before any input is read, so it gets a few requests per path, not all.
SHARDS = 3


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "shard", "shards"),
    [("anonymous", 0, 1)]
    + [(role, i, SHARDS) for role in ("viewer", "trader") for i in range(SHARDS)],
)
def test_no_server_error_for_any_hostile_input_anywhere(
    world, trader, viewer, settings, role, shard, shards
):
    settings.BROKER_BACKEND = "memory"
    settings.API_TOKEN_FAILURE_LIMIT = 10**6
    settings.AXES_ENABLED = False  # the lock-out answers 429 to everything once tripped
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    every = _concrete_paths(world)
    assert len(every) > 50
    paths = every[shard::shards]
    failures: list[str] = []
    for who in ({"anonymous": None, "viewer": viewer, "trader": trader}[role],):
        client = Client(raise_request_exception=False)
        if who is not None:
            client.force_login(who)
        for path in paths:
            # "0" stands for an id that does not exist and gets every hostile request; "-1" and the
            # other hostile path values get a plain GET and an empty POST.
            hostile_path = any(v in path for v in PATH_VALUES if v != "0")
            requests: list[tuple[str, dict]] = [("get", {"path": path})]
            if path.startswith("/admin/"):
                requests += [("get", {"path": path, "data": {"p": v, "o": v, "q": v, "e": v}})
                             for v in (BIG, "\x00", "-1")]  # fmt: skip
            elif who is None:
                requests += [
                    ("get", {"path": path, "data": dict.fromkeys(PARAMS, BIG)}),
                    ("post", {"path": path, "data": DEEP, "content_type": "application/json"}),
                ]
            elif hostile_path:
                requests += [
                    ("post", {"path": path, "data": "{}", "content_type": "application/json"})
                ]
            else:
                requests += _hostile_requests(client, path)
            for method, kwargs in requests:
                response = getattr(client, method)(**kwargs)
                # 502 (the broker failed a search) and 503 (health: a component is down) report the
                # state of something upstream, as documented; any other 5xx is input we mishandled.
                if response.status_code >= 500 and response.status_code not in (502, 503):
                    data = kwargs.get("data")
                    shown = repr(data)[:80] if data is not None else ""
                    user = who.username if who else "anonymous"
                    failures.append(
                        f"{response.status_code} {user} {method.upper()} {path!r} {shown}"
                    )
    assert failures == [], f"{len(failures)} server errors:\n" + "\n".join(failures[:60])
