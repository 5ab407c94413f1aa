"""API tokens are stored hashed: every plaintext token becomes its digest (the same token keeps working)."""

import hashlib

from django.db import migrations


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:40]  # = apps.core.security.token_digest


def hash_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    for token in list(Token.objects.all()):
        user_id, created = token.user_id, token.created
        token.delete()
        Token.objects.create(key=_digest(token.key), user_id=user_id, created=created)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_roles_flags_schedule"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]
    operations = [migrations.RunPython(hash_tokens, migrations.RunPython.noop)]
