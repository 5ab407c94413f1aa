"""factory-boy factories of the core app."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.core.models import RuntimeFlag, SystemStatus
from apps.core.roles import ensure_roles

DEFAULT_PASSWORD = "pw-for-tests-1"


class UserFactory(factory.django.DjangoModelFactory):
    """A user in one of the roles seeded by migration: role='trader', 'viewer' (default) or None."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        name = "viewer" if extracted is None else extracted
        if create and name:
            # Transactional tests flush the roles the migration seeded; put them back first.
            ensure_roles(Group, Permission)
            self.groups.add(Group.objects.get(name=name))


class SystemStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemStatus
        django_get_or_create = ("component",)

    component = "worker"
    status = "ok"


class RuntimeFlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RuntimeFlag
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"flag-{n}")
    enabled = False
