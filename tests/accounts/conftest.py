"""Fixtures of the account pages: emails (sent from background work) and link helpers."""

from __future__ import annotations

import re
import typing as t
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest

from app.accounts.background import wait_for_background


@pytest.fixture
def mails(foyer_app, outbox) -> t.Iterator[t.Callable[[], list[t.Any]]]:
    """``mails()``: every email sent so far, once the queued background work is done.

    Work still queued when the test ends is finished while the outbox still listens.
    """

    def read() -> list[t.Any]:
        assert wait_for_background(foyer_app, timeout=30), "background work did not finish"
        return list(outbox)

    yield read
    wait_for_background(foyer_app, timeout=30)


def link_in(message: t.Any) -> str:
    """The first https link of an email's text part that carries a token."""
    match = re.search(r"https?://\S+token=[A-Za-z0-9_\-]+", message.text)
    assert match, message.text
    return match.group(0)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def token_of(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["token"]
