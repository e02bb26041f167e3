"""Outboxes: messages to citizens (SMS, Zalo ZNS, e-mail) and HMAC-signed webhooks to the one-stop
system, with templates, channels, retries and dead letters."""
