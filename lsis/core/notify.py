"""GOV.UK Notify: the e-mail backend the digests go through in production, and its delivery statuses.

``NotifyDigestBackend`` is django-gov-notify's backend sending every e-mail with one template,
``NOTIFY_TEMPLATE_IDS["digest"]``, whose ((subject)) and ((body)) are the message's; it talks to
``NOTIFY_BASE_URL`` with ``NOTIFY_API_KEY`` and sets Notify's notification id on each ``EmailMessage`` as
``provider_reference`` (``lsis.core.messaging`` records it). ``notify_statuses_poll`` asks Notify what became
of the messages sent, and records it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django_gov_notify.backends import NotifyEmailBackend  # type: ignore[import-untyped]
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from lsis.core.messaging import PermanentDeliveryError
from lsis.core.models import Message, MessageStatus

logger = logging.getLogger(__name__)

#: Notify's statuses that end a message's story, and what each makes of it here.
FINAL_STATUSES = {
    "delivered": MessageStatus.DELIVERED,
    "permanent-failure": MessageStatus.PERMANENT_FAILURE,
    "temporary-failure": MessageStatus.PERMANENT_FAILURE,  # Notify has stopped trying: for us it is final
    "technical-failure": MessageStatus.PERMANENT_FAILURE,
}
#: Notify keeps a notification's status for 7 days: older ones are not asked about.
POLL_DAYS = 7
#: Seconds to wait for Notify's API.
TIMEOUT = 10


def notify_client() -> NotificationsAPIClient:
    """A client of Notify's API at ``NOTIFY_BASE_URL``, with ``NOTIFY_API_KEY``."""
    return NotificationsAPIClient(settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL, timeout=TIMEOUT)


class NotifyDigestBackend(NotifyEmailBackend):
    """Send each e-mail through Notify with the digest template; its subject and body are the personalisation."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        # Not NotifyEmailBackend's __init__: it reads GOVUK_NOTIFY_API_KEY, a setting this project names otherwise.
        BaseEmailBackend.__init__(self, fail_silently=fail_silently, **kwargs)
        self._lock = threading.RLock()
        self.client: NotificationsAPIClient | None = None
        self.api_key = kwargs.get("govuk_notify_api_key") or settings.NOTIFY_API_KEY

    def open(self) -> bool:
        """Make the API client (there is no connection to keep open)."""
        if self.client:
            return False
        self.client = NotificationsAPIClient(self.api_key, base_url=settings.NOTIFY_BASE_URL, timeout=TIMEOUT)
        return True

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send each message to each recipient; set Notify's notification id on it as ``provider_reference``."""
        sent = 0
        with self._lock:
            self.open()
            for email in email_messages:
                try:
                    for address in email.recipients():
                        response = self.client.send_email_notification(  # type: ignore[union-attr]
                            email_address=address,
                            template_id=settings.NOTIFY_TEMPLATE_IDS["digest"],
                            personalisation={"subject": email.subject, "body": email.body},
                        )
                        email.provider_reference = response["id"]  # type: ignore[attr-defined]
                except HTTPError as error:
                    if self.fail_silently:
                        continue
                    # 400 (a bad address or template) and 403 (a bad key) will fail again; 429 and 5xx may not.
                    if error.status_code in (400, 403):
                        raise PermanentDeliveryError(f"Notify refused the message: {error}") from error
                    raise
                except Exception:
                    if not self.fail_silently:
                        raise
                    continue
                sent += 1
        return sent


def notify_statuses_poll(*, limit: int = 500) -> int:
    """Ask Notify for the status of the messages sent through it in the last days; record it. Return how many changed.

    ``delivered`` and the failures end a message's story (a failure shows as permanent-failure in the admin,
    and is logged at ERROR); ``created``, ``sending`` and ``pending`` are recorded and asked again later.
    """
    if not settings.NOTIFY_API_KEY:
        return 0
    client = notify_client()
    since = timezone.now() - timedelta(days=POLL_DAYS)
    changed = 0
    pending = Message.objects.filter(status=MessageStatus.SENT, sent_at__gte=since).exclude(provider_reference="")
    for message in pending.order_by("sent_at", "pk")[:limit]:
        try:
            answer = client.get_notification_by_id(message.provider_reference)
        except HTTPError as error:
            logger.warning("Notify's status of message %s could not be read: %s", message.pk, error)
            continue
        provider_status = str(answer.get("status", ""))[:40]
        status = FINAL_STATUSES.get(provider_status, MessageStatus.SENT)
        if (provider_status, status) == (message.provider_status, message.status):
            continue
        if status == MessageStatus.PERMANENT_FAILURE:
            logger.error("Message %s to %s failed at Notify: %s", message.pk, message.address, provider_status)
            message.error = f"Notify: {provider_status}"
        message.provider_status = provider_status
        message.status = status
        message.save(update_fields=["provider_status", "status", "error"])
        changed += 1
    return changed
