"""Creates the demo trader and viewer on first start and prints their credentials once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

DEMO_USERS = [("trader", "trader"), ("viewer", "viewer")]


class Command(BaseCommand):
    help = "Create the demo users 'trader' and 'viewer' (once) and print their passwords."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        created: list[tuple[str, str, str]] = []
        with transaction.atomic():
            for username, group_name in DEMO_USERS:
                if User.objects.filter(username=username).exists():
                    continue
                password = secrets.token_urlsafe(9)
                user = User.objects.create_user(username=username, password=password)
                user.groups.add(Group.objects.get(name=group_name))
                if group_name == "trader":
                    user.is_staff = True  # the demo trader may use the admin too
                    user.is_superuser = True
                    user.save(update_fields=["is_staff", "is_superuser"])
                created.append((username, group_name, password))
        if not created:
            self.stdout.write("demo users already exist (passwords were printed on first start)")
            return
        self.stdout.write(
            self.style.SUCCESS("Demo users created — these passwords are shown only once:")
        )
        for username, role, password in created:
            self.stdout.write(f"  {role:7s} username={username} password={password}")
        self.stdout.write("  (change them with: manage.py changepassword <username>)")
