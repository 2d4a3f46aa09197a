"""Helpers for the hosted login pages: login transactions as /authorize would start them."""

from __future__ import annotations

import typing as t

import pytest
from flask import session as cookie

from app.login import flow


@pytest.fixture
def make_tx(foyer_app, client, tenant) -> t.Callable[..., str]:
    """Start a login transaction in ``client``'s session, as ``/authorize`` does; returns its id.

    ``make_tx(params={"login_hint": "a@b.test", "ui_locales": "fr"}, force_login=True)``;
    ``app_client`` makes it a sign-in for that application (it then ends at
    ``oidc.authorize_resume``).
    """

    def make(
        params: dict[str, str] | None = None,
        organization=None,
        app_client=None,
        force_login: bool = False,
        created_at: float | None = None,
    ) -> str:
        with foyer_app.test_request_context("/authorize", base_url=client.host_url):
            tx = flow.begin(tenant, params=params, client=app_client,
                            organization=organization, force_login=force_login)
            if created_at is not None:
                tx.created_at = created_at
                flow.save(tx)
            started = cookie[flow.COOKIE_KEY]
        with client.session_transaction() as sess:
            sess[flow.COOKIE_KEY] = {**sess.get(flow.COOKIE_KEY, {}), **started}
        return tx.id

    return make

