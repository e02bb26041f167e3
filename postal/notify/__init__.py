"""Outboxes: notifications to citizens (SMS) and HMAC-signed webhooks to the one-stop system."""
