"""Fixtures of the attack tests: a real SMTP server, and a tenant open to sign-up."""

from __future__ import annotations

import socket
import typing as t

import pytest

from app.accounts.background import wait_for_background
from app.db import session
from app.testing import submit_form
from e2e.mailbox import Mailbox


@pytest.fixture
def mailbox(foyer_app) -> t.Iterator[Mailbox]:
    """The e2e suite's SMTP server (aiosmtpd) on a free loopback port, where Foyer's own
    SMTP delivery sends every email of the test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox()
    box.start(port)
    foyer_app.extensions["foyer.settings"].smtp_url = f"smtp://127.0.0.1:{port}"
    try:
        yield box
    finally:
        wait_for_background(foyer_app)
        box.stop()


@pytest.fixture
def open_signup(connection):
    connection.signup_enabled = True
    session.commit()
    return connection


def signup(browser, email: str, password: str, name: str = "") -> t.Any:
    page = browser.get("/signup")
    return submit_form(browser, page, "signup-form", email=email, name=name, password=password)


def enter_code(browser, code: str) -> t.Any:
    page = browser.get("/signup/verify")
    if page.status_code != 200:
        return page
    return submit_form(browser, page, "signup-code-form", code=code)
