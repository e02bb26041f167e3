"""What the worker tier calls: one place for the outbox's delivery steps and start-up checks."""

from __future__ import annotations

from postal.notify.channels import configured_channels, make_channels
from postal.notify.citizen import enqueue_courier_on_way, enqueue_reminders
from postal.notify.outbox import Outcome, deliver_message, due_messages, enqueue_message
from postal.notify.templating import TemplateError, check_templates
from postal.notify.webhooks import deliver_webhook, due_webhooks

__all__ = [
    "Outcome",
    "TemplateError",
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
