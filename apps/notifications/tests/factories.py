"""factory-boy factories of the notifications app."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.core.tests.factories import UserFactory
from apps.notifications.models import Delivery, Notification, NotificationChannel


class ChannelFactory(factory.django.DjangoModelFactory):
    """A console channel by default; ``ChannelFactory(kind="slack", secret=url)`` etc. for the others."""

    class Meta:
        model = NotificationChannel

    user = factory.SubFactory(UserFactory)
    kind = "console"
    name = factory.Sequence(lambda n: f"channel-{n}")
    enabled = True


class SlackChannelFactory(ChannelFactory):
    kind = "slack"
    secret = "https://hooks.slack.test/services/T000/B000/XXXXXXXXXXXXXXXX"


class TelegramChannelFactory(ChannelFactory):
    kind = "telegram"
    target = "123456789"
    secret = "123456:AAH-telegram-token-for-tests-0001"


class EmailChannelFactory(ChannelFactory):
    kind = "email"
    target = factory.Sequence(lambda n: f"trader{n}@example.test")


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    kind = "system"
    title = factory.Sequence(lambda n: f"알림 {n}")
    body = "본문"
    created_at = factory.LazyFunction(timezone.now)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    channel = factory.SubFactory(ChannelFactory)
    notification = factory.SubFactory(NotificationFactory)
    status = "sent"
    send_after = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
