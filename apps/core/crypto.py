"""Encryption at rest for broker credentials (Fernet with FIELD_ENCRYPTION_KEY)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _fernet() -> Fernet:
    key = settings.FIELD_ENCRYPTION_KEY
    if not key:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is required to store credentials")
    return Fernet(key)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # Never echo the ciphertext or the key; say what to do instead.
        raise ImproperlyConfigured(
            "stored credential cannot be decrypted: FIELD_ENCRYPTION_KEY changed?"
        ) from exc


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; Python code sees plain text."""

    def from_db_value(self, value, expression, connection):
        return value if value in (None, "") else decrypt(value)  # "" stays "": NOT NULL column

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value in (None, "") else encrypt(value)
