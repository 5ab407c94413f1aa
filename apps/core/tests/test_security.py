"""Logins and API tokens are throttled: wrong passwords lock the account and the address out (django-axes)
with a page that says when to retry; guessed API tokens get 429; test sends are limited per user."""

from __future__ import annotations

import os

import pytest
from rest_framework.authtoken.models import Token

from apps.core.security import issue_token, token_digest
from apps.core.tests.factories import UserFactory

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def account(db):
    user = UserFactory(username="alice", role="trader")
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client, username: str, password: str, ip: str = "203.0.113.5"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_forty_wrong_passwords_lock_the_account_even_for_the_right_one(client, account, settings):
    for _ in range(40):
        _login(client, "alice", "wrong-password")
    response = _login(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    text = response.content.decode()
    assert "다시 시도하세요" in text and "분 후" in text  # says when to retry
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


@pytest.mark.django_db
def test_the_account_is_locked_from_another_address_too(client, account):
    for _ in range(5):
        _login(client, "alice", "wrong-password", ip="203.0.113.5")
    assert _login(client, "alice", PASSWORD, ip="198.51.100.7").status_code == 429


@pytest.mark.django_db
def test_one_address_guessing_many_accounts_is_locked_out(client, account):
    for n in range(5):
        _login(client, f"user{n}", "wrong-password", ip="203.0.113.9")
    assert _login(client, "alice", PASSWORD, ip="203.0.113.9").status_code == 429
    assert (
        _login(client, "alice", PASSWORD, ip="198.51.100.8").status_code == 302
    )  # elsewhere: fine


@pytest.mark.django_db
def test_a_few_typos_then_the_right_password_logs_in(client, account):
    for _ in range(3):
        assert _login(client, "alice", "typo").status_code == 200
    assert _login(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_guessed_api_tokens_are_throttled(api_client, viewer, settings):
    statuses = [
        api_client.get(
            "/api/v1/health", HTTP_AUTHORIZATION=f"Token guess{n:035d}", REMOTE_ADDR="203.0.113.20"
        ).status_code
        for n in range(40)
    ]
    limit = settings.API_TOKEN_FAILURE_LIMIT
    assert set(statuses[:limit]) <= {401, 403}  # refused, not yet throttled
    assert set(statuses[limit:]) == {429}
    # Even the right token is refused from that address until the window ends.
    token = issue_token(viewer)
    blocked = api_client.get(
        "/api/v1/health", HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR="203.0.113.20"
    )
    assert blocked.status_code == 429 and "Retry-After" in blocked
    assert "다시 시도" in blocked.json()["detail"]
    ok = api_client.get(
        "/api/v1/health", HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR="198.51.100.1"
    )
    assert ok.status_code in (200, 503)  # health itself answers (503 = a component is down)


@pytest.mark.django_db
def test_test_sends_are_rate_limited_per_user(client, viewer, other_user):
    from apps.notifications.tests.factories import ChannelFactory

    client.force_login(viewer)
    channel = ChannelFactory(user=viewer)
    url = f"/api/v1/notifications/channels/{channel.pk}/test"
    codes = [client.post(url).status_code for _ in range(8)]
    assert codes[:5] == [202] * 5 and set(codes[5:]) == {429}
    # Another user is not affected.
    client.force_login(other_user)
    mine = ChannelFactory(user=other_user)
    assert client.post(f"/api/v1/notifications/channels/{mine.pk}/test").status_code == 202


@pytest.mark.django_db
def test_demo_admin_is_a_separate_staff_account_and_the_trader_is_only_a_trader():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    users = {u.username: u for u in get_user_model().objects.all()}
    trader, viewer, admin = users["trader"], users["viewer"], users["admin"]
    assert not trader.is_superuser and not trader.is_staff
    assert trader.has_perm("core.trade") and not trader.has_perm("auth.change_user")
    assert not viewer.has_perm("core.trade")
    assert admin.is_superuser and admin.is_staff


@pytest.mark.django_db
def test_an_older_demo_install_loses_its_superuser_trader(django_user_model):
    from django.core.management import call_command

    django_user_model.objects.create_user("trader", password="x", is_staff=True, is_superuser=True)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    trader = django_user_model.objects.get(username="trader")
    assert not trader.is_superuser and not trader.is_staff


@pytest.mark.django_db
def test_api_tokens_are_stored_hashed(api_client, viewer):
    raw = issue_token(viewer)
    stored = Token.objects.get(user=viewer).key
    assert stored == token_digest(raw) and stored != raw
    assert api_client.get("/api/v1/flags", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200
    # What the table holds is no token: a leaked row does not log in.
    refused = api_client.get("/api/v1/flags", HTTP_AUTHORIZATION=f"Token {stored}")
    assert refused.status_code in (401, 403)


@pytest.mark.django_db
def test_api_token_command_prints_the_token_once(viewer):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("api_token", viewer.username, stdout=out)
    raw = out.getvalue().split()[3]
    assert Token.objects.get(user=viewer).key == token_digest(raw)
