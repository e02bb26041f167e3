"""Channels that carry a message to a citizen, behind one interface.

A channel's ``send`` returns when the gateway accepted the message, and raises
``PermanentFailure`` when the gateway refused it for good (HTTP 4xx, SMTP 5xx: the message is
dead-lettered with the gateway's reason) or ``TemporaryFailure`` when trying again may work
(HTTP 5xx, SMTP 4xx, timeouts, connection errors). Every send carries the message's own UUID as
an idempotency key (HTTP ``Idempotency-Key`` header and the body's ``tracking_id``; e-mail
``Message-ID``): a re-send after a crash is recognisable by the gateway, so delivery is at
least once with a key the gateway sees.
"""

from __future__ import annotations

import base64
import json
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import httpx

from postal.config import Settings
from postal.notify.models import ContactChannel


@dataclass(frozen=True)
class OutgoingMessage:
    """What a channel needs to send one message (built from an outbox row)."""

    message_id: str
    template: str
    lang: str
    body: str
    phone: str
    email: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


class DeliveryFailure(Exception):
    """A send did not succeed; ``reason`` is the gateway's own words (no personal data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


class PermanentFailure(DeliveryFailure):
    """The gateway refused the message for good (HTTP 4xx, SMTP 5xx): dead-letter it."""


class TemporaryFailure(DeliveryFailure):
    """The gateway could not take the message now (HTTP 5xx, SMTP 4xx, timeout, connection
    error): try again later."""


class Channel(Protocol):
    """One way of reaching a citizen."""

    name: ContactChannel

    def can_send(self, message: OutgoingMessage) -> bool:
        """Whether this channel can carry ``message`` (a recipient, a template id...)."""
        ...

    def send(self, message: OutgoingMessage) -> None:
        """Hand ``message`` to the gateway; raise PermanentFailure or TemporaryFailure."""
        ...


def _http_failure(response: httpx.Response) -> DeliveryFailure:
    text = " ".join(response.text.split())[:300]
    reason = f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        return PermanentFailure(reason)
    return TemporaryFailure(reason)


def _post(
    client: httpx.Client | None,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    timeout_s: float,
) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    try:
        if client is not None:
            response = client.post(url, content=body, headers=headers, timeout=timeout_s)
        else:
            with httpx.Client(timeout=timeout_s) as own:
                response = own.post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise TemporaryFailure(f"timeout after {timeout_s:g} s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise _http_failure(response)
    return response


class SmsGateway:
    """An SMS gateway over HTTP: POST JSON {to, brandname, message, tracking_id}."""

    name = ContactChannel.sms

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        assert settings.sms_url is not None
        self.url = settings.sms_url
        self.brandname = settings.sms_brandname
        self.timeout_s = settings.message_timeout_s
        self.client = client
        self.headers: dict[str, str] = {}
        if settings.sms_token:
            self.headers["Authorization"] = f"Bearer {settings.sms_token}"
        elif settings.sms_username:
            pair = f"{settings.sms_username}:{settings.sms_password or ''}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()

    def can_send(self, message: OutgoingMessage) -> bool:
        """Every message has a phone number."""
        return bool(message.phone)

    def send(self, message: OutgoingMessage) -> None:
        """POST the text; 2xx is accepted."""
        payload = {
            "to": message.phone,
            "brandname": self.brandname,
            "message": message.body,
            "tracking_id": message.message_id,
        }
        headers = {**self.headers, "Idempotency-Key": message.message_id}
        _post(self.client, self.url, payload, headers, self.timeout_s)


def _zns_value(value: Any) -> str:
    """A ZNS template parameter is a short string."""
    if isinstance(value, list):
        return ", ".join(str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


class ZaloZns:
    """Zalo Notification Service: an approved template id and its parameters over HTTP."""

    name = ContactChannel.zalo

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        assert settings.zalo_url is not None and settings.zalo_access_token is not None
        self.url = settings.zalo_url
        self.token = settings.zalo_access_token
        self.templates = dict(settings.zalo_templates)
        self.timeout_s = settings.message_timeout_s
        self.client = client

    def can_send(self, message: OutgoingMessage) -> bool:
        """Only messages with an approved ZNS template."""
        return bool(message.phone) and message.template in self.templates

    def send(self, message: OutgoingMessage) -> None:
        """POST {phone, template_id, template_data, tracking_id}; a Zalo ``error`` other than
        0 in a 2xx reply is a refusal."""
        payload = {
            "phone": message.phone.lstrip("+"),
            "template_id": self.templates[message.template],
            "template_data": {k: _zns_value(v) for k, v in message.params.items()},
            "tracking_id": message.message_id,
        }
        headers = {"access_token": self.token, "Idempotency-Key": message.message_id}
        response = _post(self.client, self.url, payload, headers, self.timeout_s)
        try:
            reply = response.json()
        except ValueError:
            return
        if isinstance(reply, dict) and reply.get("error") not in (None, 0):
            raise PermanentFailure(f"Zalo error {reply.get('error')}: {reply.get('message', '')}")


def _smtp_reason(code: int, text: bytes | str) -> str:
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"SMTP {code}: {' '.join(words.split())}"


def _smtp_failure(code: int, text: bytes | str) -> DeliveryFailure:
    reason = _smtp_reason(code, text)
    return PermanentFailure(reason) if code >= 500 else TemporaryFailure(reason)


class SmtpEmail:
    """E-mail by SMTP (smtplib), text/plain in UTF-8, Message-ID from the message's UUID."""

    name = ContactChannel.email

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None and settings.smtp_from is not None
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password or ""
        self.sender = settings.smtp_from
        self.starttls = settings.smtp_starttls
        self.timeout_s = settings.message_timeout_s

    def can_send(self, message: OutgoingMessage) -> bool:
        """Only when the citizen gave an address."""
        return bool(message.email)

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        """The e-mail: subject from the first line of the text."""
        assert message.email is not None
        email = EmailMessage()
        domain = self.sender.rsplit("@", 1)[-1] or "postal.invalid"
        email["Message-ID"] = f"<{message.message_id}@{domain}>"
        email["From"] = self.sender
        email["To"] = message.email
        email["Date"] = formatdate(localtime=False)
        first = message.body.splitlines()[0] if message.body else message.template
        email["Subject"] = first if len(first) <= 90 else first[:87] + "..."
        email["Content-Language"] = message.lang
        email.set_content(message.body, charset="utf-8")
        return email

    def send(self, message: OutgoingMessage) -> None:
        """Deliver to the SMTP server; 5xx replies are permanent, the rest temporary."""
        email = self.compose(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            # The refused address itself stays out of the reason (personal data).
            code, text = next(iter(exc.recipients.values()))
            raise _smtp_failure(code, text) from exc
        except smtplib.SMTPResponseException as exc:
            raise _smtp_failure(exc.smtp_code, exc.smtp_error) from exc
        except TimeoutError as exc:
            raise TemporaryFailure(f"SMTP timeout after {self.timeout_s:g} s") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"SMTP {type(exc).__name__}: {exc}") from exc


def configured_channels(settings: Settings) -> frozenset[ContactChannel]:
    """The channels this deployment's settings configure (the others' messages wait or go by
    SMS)."""
    found: set[ContactChannel] = set()
    if settings.sms_url:
        found.add(ContactChannel.sms)
    if settings.zalo_url and settings.zalo_access_token:
        found.add(ContactChannel.zalo)
    if settings.smtp_host and settings.smtp_from:
        found.add(ContactChannel.email)
    return frozenset(found)


def make_channels(
    settings: Settings, http_client: httpx.Client | None = None
) -> dict[ContactChannel, Channel]:
    """One sender per configured channel."""
    configured = configured_channels(settings)
    channels: dict[ContactChannel, Channel] = {}
    if ContactChannel.sms in configured:
        channels[ContactChannel.sms] = SmsGateway(settings, http_client)
    if ContactChannel.zalo in configured:
        channels[ContactChannel.zalo] = ZaloZns(settings, http_client)
    if ContactChannel.email in configured:
        channels[ContactChannel.email] = SmtpEmail(settings)
    return channels


def choose_channel(
    preferred: ContactChannel,
    message: OutgoingMessage,
    channels: Mapping[ContactChannel, Channel],
) -> Channel | None:
    """The citizen's preferred channel when configured and able to carry the message, else
    SMS; None when neither is (the message waits)."""
    for name in (preferred, ContactChannel.sms):
        channel = channels.get(name)
        if channel is not None and channel.can_send(message):
            return channel
    return None
