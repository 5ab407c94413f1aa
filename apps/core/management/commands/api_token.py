"""Issue an API token for a user: printed once, stored only as a hash (replaces DRF's drf_create_token)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core.security import issue_token


class Command(BaseCommand):
    help = (
        "Issue a new API token for USERNAME (any old one stops working). Shown once; stored hashed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, **options) -> None:
        try:
            user = get_user_model().objects.get(username=options["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {options['username']!r}") from None
        raw = issue_token(user)
        self.stdout.write(f"Token for {user.username}: {raw}")
        self.stdout.write("(shown only now; send it as 'Authorization: Token …')")
