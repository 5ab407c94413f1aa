"""Korean first: the UI is Korean unless the user picked another language (cookie/session)."""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware


class KoreanFirstLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, minus browser negotiation: traders get the Korean UI even on an English
    browser, and English only when they select it (the choice is kept in the language cookie)."""

    def process_request(self, request):
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        super().process_request(request)
