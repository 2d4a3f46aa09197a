"""Seed a throwaway instance for the e2e suite; prints the accounts file as JSON.

Usage: ``python e2e/seed.py PORT RP_PORT`` with FOYER_INSTANCE_PATH set.
"""

from __future__ import annotations

import json
import os
import sys

from seed_accounts import seed_account_flows  # e2e/, next to this script
from seed_branding import seed_themed_organizations  # e2e/, next to this script
from seed_hrd import seed_hrd  # e2e/, next to this script

from app import create_app
from app.accounts.services import create_user
from app.clients.services import create_client
from app.connections.services import create_connection
from app.db import session
from app.security.passwords import hash_password
from app.tenancy.services import create_tenant

PASSWORD = "e2e password that is long"
WEAK = "123456789012"


def main(port: int, rp_port: int) -> None:
    upstream = os.environ.get("FOYER_E2E_UPSTREAM_ISSUER")
    github = os.environ.get("FOYER_E2E_GITHUB_URL")
    app = create_app()
    with app.app_context():
        tenant = create_tenant("e2e", "E2E Corp", [f"http://localhost:{port}"])
        if os.environ.get("FOYER_E2E_THEME"):  # the whole suite on another theme
            tenant.settings = {**tenant.settings, "theme": os.environ["FOYER_E2E_THEME"]}
        connection = create_connection(tenant, "users", "database", "E2E users")
        alice = create_user(
            connection,
            email="alice@e2e.test",
            password=PASSWORD,
            name="Alice E2E",
            email_verified=True,
        )
        create_user(connection, email="blocked@e2e.test", password=PASSWORD, blocked=True)
        # chosen before the policy refused it: the sign-in asks for a new one
        create_user(connection, email="weak@e2e.test", password_hash=hash_password(WEAK))
        organizations = seed_themed_organizations(tenant, connection, port, [alice])
        account_flows = seed_account_flows(tenant, connection, PASSWORD, rp_port)
        hrd = seed_hrd(tenant, port, rp_port, upstream, github)
        clients = {}
        for key, name in (("client", "E2E app"), ("client2", "E2E second app")):
            redirect_uri = f"http://127.0.0.1:{rp_port}/{key}/callback"
            client, secret = create_client(
                tenant,
                name,
                redirect_uris=[redirect_uri],
                post_logout_redirect_uris=[f"http://127.0.0.1:{rp_port}/{key}/signed-out"],
            )
            clients[key] = {
                "client_id": client.client_id,
                "client_secret": secret,
                "redirect_uri": redirect_uri,
                "post_logout_redirect_uri": client.post_logout_redirect_uris[0],
            }
        session.commit()
    accounts = {
        **clients,
        "organizations": organizations,
        "users": {
            "alice": {"email": "alice@e2e.test", "password": PASSWORD, "name": "Alice E2E"},
            "blocked": {"email": "blocked@e2e.test", "password": PASSWORD},
            "weak": {"email": "weak@e2e.test", "password": WEAK},
            **account_flows["users"],
        },
        "invitations": account_flows["invitations"],
        "signup": account_flows["signup"],
        "partner": account_flows["partner"],
        "hrd": hrd,
    }
    print(json.dumps(accounts))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
