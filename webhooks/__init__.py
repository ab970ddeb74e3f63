"""Webhooks out: Standard Webhooks signing, the event and chat-message bodies, and the outbox's sender."""
