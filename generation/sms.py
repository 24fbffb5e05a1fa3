"""Text messages to end users' phones (the one-time codes of real-name verification), through a pluggable sender.

``SMS_BACKEND`` names the class (``GENAI_SMS_BACKEND``):

- ``generation.sms.ConsoleBackend`` (the default): writes each message to the log and keeps the latest ones in
  ``outbox``, for development and tests; nothing leaves the machine.
- ``generation.sms.HttpGatewayBackend``: posts ``{"phone": ..., "text": ...}`` as JSON to ``GENAI_SMS_GATEWAY_URL``
  with ``Authorization: Bearer <GENAI_SMS_GATEWAY_TOKEN>``, the shape a small adapter in front of a carrier's or a
  cloud provider's SMS API takes.

A backend is any class with ``send(phone, text)`` that raises ``SmsUnavailable`` when the message did not go.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsUnavailable(Exception):
    """The message could not be sent."""


@dataclass(frozen=True)
class Message:
    phone: str
    text: str


class SmsBackend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


# What the console backend sent, newest last (a developer or a test reads the code here).
outbox: deque[Message] = deque(maxlen=100)


class ConsoleBackend:
    def send(self, phone: str, text: str) -> None:
        outbox.append(Message(phone=phone, text=text))
        logger.warning("sms.console to=%s text=%s", phone, text)


class HttpGatewayBackend:
    timeout_seconds = 10.0

    def send(self, phone: str, text: str) -> None:
        url = settings.SMS_GATEWAY_URL
        if not url.startswith(("https://", "http://")):
            raise SmsUnavailable("GENAI_SMS_GATEWAY_URL is not set to an http(s) address")
        request = urllib.request.Request(  # noqa: S310 (an http(s) address, checked above)
            url,
            data=json.dumps({"phone": phone, "text": text}, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310 (checked above)
                if response.status >= 300:
                    raise SmsUnavailable(f"the gateway answered HTTP {response.status}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsUnavailable(f"the gateway could not be reached: {exc}") from exc


def sms_send(phone: str, text: str) -> None:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    backend.send(phone, text)
