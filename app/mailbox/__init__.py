"""The development mailbox: the emails Foyer sent, read from the outbox in the browser."""
