"""A real SMTP server (aiosmtpd) for the e2e suite: Foyer sends its emails here, and
scenarios read them (the reset link, the invitation) like a person reading their inbox."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import threading
import time
import typing as t

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://[^\s\"'<>]+token=[A-Za-z0-9_\-]+")
CODE = re.compile(r"\b\d{4} \d{4}\b")


class Mailbox:
    """Every message the server received, in order; ``wait_for`` blocks until one arrives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Condition()
        self.controller: Controller | None = None
        self.port = 0

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append(t.cast(email.message.EmailMessage, message))
            self.arrived.notify_all()
        return "250 OK"

    def start(self, port: int) -> None:
        self.port = port
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def wait_for(
        self, to: str, subject: str = "", timeout: float = 30.0, after: int = 0
    ) -> email.message.EmailMessage:
        """The first message to ``to`` whose subject contains ``subject`` (among those
        received after the first ``after`` messages)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for message in self.messages[after:]:
                    if message["To"] == to and subject in str(message["Subject"]):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no email to {to} about {subject!r} in {timeout}s")
                self.arrived.wait(left)

    def count(self) -> int:
        with self.arrived:
            return len(self.messages)


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return t.cast(str, part.get_content())


def link_in(message: email.message.EmailMessage) -> str:
    """The link with a token in the email's text part."""
    match = LINK.search(text_of(message))
    assert match, text_of(message)
    return match.group(0)


def code_in(message: email.message.EmailMessage) -> str:
    """The sign-up code in the email's text part, as shown (``1234 5678``)."""
    match = CODE.search(text_of(message))
    assert match, text_of(message)
    return match.group(0)
