"""The web side: a code per request, shown once, only the user's own links; the journal in the admin."""

from __future__ import annotations

import pytest

from apps.chatops.models import ChatCommand, LinkCode, TelegramLink

pytestmark = pytest.mark.django_db


def test_a_code_is_stored_hashed_and_a_new_one_replaces_it(trader_client, trader) -> None:
    first = trader_client.post("/telegram/").content.decode()
    trader_client.post("/telegram/")
    codes = LinkCode.objects.filter(user=trader)
    assert codes.count() == 1
    assert len(codes.get().digest) == 64 and codes.get().digest not in first


def test_a_viewer_may_link_too(viewer_client) -> None:
    assert "/link " in viewer_client.post("/telegram/").content.decode()


def test_only_own_links_can_be_removed(trader_client, other_user) -> None:
    theirs = TelegramLink.objects.create(user=other_user, chat_id=987654321987)  # in no clock
    trader_client.post(f"/telegram/links/{theirs.pk}/delete")
    assert TelegramLink.objects.filter(pk=theirs.pk).exists()
    assert str(theirs.chat_id) not in trader_client.get("/telegram/").content.decode()


def test_anonymous_is_sent_to_login(client) -> None:
    assert client.get("/telegram/").status_code == 302


def test_the_journal_is_in_the_admin(admin_client) -> None:
    ChatCommand.objects.create(
        bot_id="1", update_id=7, chat_id=6666, command="stop", outcome="refused"
    )
    page = admin_client.get("/admin/chatops/chatcommand/")
    assert page.status_code == 200 and "6666" in page.content.decode()
