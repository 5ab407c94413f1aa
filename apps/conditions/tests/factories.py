"""factory-boy factories of the conditions app."""

from __future__ import annotations

import factory
from django.conf import settings
from django.utils import timezone

from apps.conditions.models import Condition, ConditionEvent, ConditionMember


class ConditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Condition

    account = factory.LazyFunction(lambda: settings.KIWOOM_ACCOUNT)
    seq = factory.Sequence(lambda n: str(n))
    name = factory.Sequence(lambda n: f"조건{n}")
    active = True
    listed = True


class ConditionMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConditionMember

    condition = factory.SubFactory(ConditionFactory)
    code = factory.Sequence(lambda n: f"{n:06d}")
    name = factory.Sequence(lambda n: f"종목{n}")
    is_member = True
    changed_at = factory.LazyFunction(timezone.now)


class ConditionEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConditionEvent

    condition = factory.SubFactory(ConditionFactory)
    code = factory.Sequence(lambda n: f"{n:06d}")
    name = factory.Sequence(lambda n: f"종목{n}")
    kind = "entry"
    at = factory.LazyFunction(timezone.now)
    recorded_at = factory.LazyFunction(timezone.now)
    price = 10_000
    source = "poll"
