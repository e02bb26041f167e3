"""What the worker tier calls: one place for the outbox's delivery steps and start-up checks."""

from __future__ import annotations

from postal.config import Settings
from postal.notify.channels import configured_channels, make_channels
from postal.notify.citizen import enqueue_courier_on_way, enqueue_reminders
from postal.notify.models import ContactChannel
from postal.notify.outbox import Outcome, deliver_message, due_messages, enqueue_message
from postal.notify.templating import TemplateError, check_templates
from postal.notify.webhooks import deliver_webhook, due_webhooks


def check_at_start(settings: Settings) -> list[str]:
    """Refuse to start (TemplateError) with a broken message template; return a warning per
    channel that is not configured (its messages wait, or go by SMS when SMS is configured)."""
    check_templates()
    configured = configured_channels(settings)
    fallback = "go by SMS" if ContactChannel.sms in configured else "wait in the outbox"
    return [
        f"message channel {channel.value} is not configured: its messages {fallback}"
        for channel in ContactChannel
        if channel not in configured
    ]


__all__ = [
    "Outcome",
    "TemplateError",
    "check_at_start",
    "check_templates",
    "configured_channels",
    "deliver_message",
    "deliver_webhook",
    "due_messages",
    "due_webhooks",
    "enqueue_courier_on_way",
    "enqueue_message",
    "enqueue_reminders",
    "make_channels",
]
