"""Delivering a queued message through Django's e-mail framework, recording what became of it.

The backend is whatever ``EMAIL_BACKEND`` names: SMTP (``EMAIL_URL``), GOV.UK Notify
(``lsis.core.notify.NotifyDigestBackend``), or the console and in-memory ones locally and in tests. A
backend that knows the provider's id for the message sets it as ``provider_reference`` on the
``EmailMessage``; it is recorded so the provider's delivery status can be asked for later.

Delivery is at least once: the row is locked while the e-mail is handed over and the result is written in
the same transaction, so two deliveries of one message never overlap and a delivered one is never sent
again. The one window is a process that dies after the provider accepted the e-mail and before the commit:
the message stays queued and is sent again.
"""

from __future__ import annotations

import logging
import smtplib

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from lsis.core.models import Message, MessageStatus

logger = logging.getLogger(__name__)

#: Attempts after which a message that keeps failing is given up on.
MAX_ATTEMPTS = 5


class MessageBusyError(Exception):
    """Another delivery holds the message (or a dead one's session still does): try again shortly."""


class PermanentDeliveryError(Exception):
    """The provider refused the message for good (a bad address, a bad template): trying again cannot help."""


def _is_permanent(error: Exception) -> bool:
    # A 5xx reply is the server's permanent refusal; 4xx is "try again later".
    if isinstance(error, PermanentDeliveryError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600


def message_deliver(*, message_id: int) -> str | None:
    """Send the message ``message_id`` if it is still to be sent; return its status afterwards (None if skipped).

    Skipped (None) when it is no longer queued or failed: sent already, or given up on. When another delivery
    holds it, raises ``MessageBusyError``: the caller tries again later, and then finds it sent or still to
    send. A failure is recorded (attempts, error): a permanent one, or the ``MAX_ATTEMPTS``-th, marks it
    permanent-failure and is logged at ERROR.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status__in=[MessageStatus.QUEUED, MessageStatus.FAILED])
            .first()
        )
        if message is None:
            if Message.objects.filter(pk=message_id, status__in=[MessageStatus.QUEUED, MessageStatus.FAILED]).exists():
                raise MessageBusyError(f"Message {message_id} is being delivered by another process.")
            return None
        email = EmailMessage(subject=message.subject, body=message.body, to=[message.address])
        message.attempts += 1
        try:
            with get_connection() as connection:
                sent = connection.send_messages([email])
            if not sent:
                raise RuntimeError("The e-mail backend sent nothing.")
        except Exception as error:  # any error of any backend is recorded, not raised
            message.error = f"{type(error).__name__}: {error}"[:2000]
            if _is_permanent(error) or message.attempts >= MAX_ATTEMPTS:
                message.status = MessageStatus.PERMANENT_FAILURE
                logger.error(
                    "Message %s to %s failed permanently after %s attempt(s): %s",
                    message.pk,
                    message.address,
                    message.attempts,
                    message.error,
                )
            else:
                message.status = MessageStatus.FAILED
                logger.warning("Message %s failed (attempt %s): %s", message.pk, message.attempts, message.error)
        else:
            message.status = MessageStatus.SENT
            message.sent_at = timezone.now()
            message.error = ""
            message.provider_reference = str(getattr(email, "provider_reference", "") or "")[:100]
        message.save(update_fields=["status", "attempts", "error", "sent_at", "provider_reference"])
        return message.status
