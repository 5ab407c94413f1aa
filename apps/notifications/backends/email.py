"""Email channel: Django's email backend (SMTP in production, per EMAIL_* settings)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.utils import DNS_NAME

from apps.notifications.backends.base import BaseBackend, OutgoingMessage, SendError
from apps.notifications.models import NotificationChannel


class EmailBackend(BaseBackend):
    kind = "email"

    def send(self, channel: NotificationChannel, message: OutgoingMessage) -> None:
        connection = get_connection(timeout=settings.NOTIFY_HTTP_TIMEOUT_SECONDS)
        mail = EmailMessage(
            subject=f"[StockAgent] {message.title}",
            body=message.body or message.title,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[channel.target],
            connection=connection,
            # The same Message-ID on every attempt: a re-send after an interrupted one is a repeat that
            # mail servers and clients can recognise and collapse.
            headers={"Message-ID": f"<{message.key}@{DNS_NAME}>"} if message.key else None,
        )
        for item in message.attachments:
            mail.attach(item.filename, item.content, item.content_type)
        try:
            mail.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused:
            raise SendError("smtp: recipient refused", retry=False) from None
        except smtplib.SMTPResponseException as exc:
            # 5xx is a permanent refusal; 4xx is "try again later". Only the code is kept (no server text).
            raise SendError(f"smtp {exc.smtp_code}", retry=exc.smtp_code < 500) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise SendError(f"smtp: {type(exc).__name__}") from None
