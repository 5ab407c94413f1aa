"""Fault switches and the per-api-id token bucket, in-process."""

import pytest

from apps.broker.simulator.faults import FaultController
from apps.broker.simulator.ratelimit import RateLimiter, throttle_message


def test_token_bucket_per_key_and_api_id() -> None:
    now = [0.0]
    rl = RateLimiter(rate_per_s=5, burst=5, clock=lambda: now[0])
    assert all(rl.allow("k", "ka10001") for _ in range(5))
    assert not rl.allow("k", "ka10001")
    assert rl.allow("k", "ka10004")  # independent per TR
    assert rl.allow("other", "ka10001")  # independent per app key
    now[0] += 0.2
    assert rl.allow("k", "ka10001")
    assert not rl.allow("k", "ka10001")
    rl.configure(None)
    assert all(rl.allow("k", "ka10001") for _ in range(100))


def test_throttle_message_shape() -> None:
    assert throttle_message("ka10001") == (
        "허용된 요청 개수를 초과하였습니다[1700:허용된 요청 개수를 초과하였습니다. API ID=ka10001]"
    )


def test_fault_counters_switch_themselves_off() -> None:
    f = FaultController()
    f.apply({"http_429": 2, "http_5xx": 1, "api_ids": ["ka10001"]})
    assert not f.take_429("ka10004")
    assert f.take_429("ka10001") and f.take_429("ka10001")
    assert not f.take_429("ka10001")
    assert f.take_5xx("ka10001") == 503
    assert f.take_5xx("ka10001") is None
    f.apply({"reset": True, "lost_order_replies": 1, "lost_reply_mode": "hang"})
    assert f.take_lost_reply("kt10000") == "hang"
    assert f.take_lost_reply("kt10000") is None


def test_fault_validation_and_actions() -> None:
    f = FaultController()
    with pytest.raises(ValueError, match="unknown"):
        f.apply({"nonsense": 1})
    with pytest.raises(ValueError):
        f.apply({"lost_reply_mode": "explode"})
    calls: list[str | None] = []
    f.on_drop_ws = lambda key: calls.append(key) or 3
    f.on_invalidate_tokens = lambda key: calls.append(key) or 1
    out = f.apply({"drop_ws": True, "invalidate_tokens": "APPKEY"})
    assert out["dropped_ws"] == 3 and out["invalidated_tokens"] == 1
    assert calls == [None, "APPKEY"]
