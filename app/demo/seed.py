"""Seeding the demo tenant from ``demo.yaml`` with ``foyer apply``'s own code (dogfooding).

The file takes the ports, the demo application's secret and the demo accounts' password from
variables this module provides; applying it again changes nothing.
"""

from __future__ import annotations

import dataclasses
import secrets
import typing as t
from pathlib import Path

from flask import Flask

from app.config import _read_or_create
from app.tenancy.services import find_tenant

DEMO_FILE = Path(__file__).resolve().parent / "demo.yaml"
DEMO_PASSWORD = "foyer-demo-pass"
"""Password of every demo account (demo only: these accounts exist nowhere else)."""
CLIENT_ID = "demo-app"
PARTNER_CLIENT_ID = "partner-app"
"""The third-party demo application (it asks for consent)."""


@dataclasses.dataclass(frozen=True)
class Account:
    """A demo account as printed on start."""

    email: str
    name: str
    connection: str
    organizations: tuple[str, ...]
    """Where the account signs in: display names, with roles for shared-pool members."""
    shared: bool = False
    """A shared-pool user (memberships), else an isolated one (its own connection)."""


@dataclasses.dataclass(frozen=True)
class Demo:
    """What ``foyer demo`` prints and hands to the demo application."""

    foyer_url: str
    rp_url: str
    client_id: str
    client_secret: str
    partner_client_id: str
    partner_client_secret: str
    accounts: tuple[Account, ...]
    organizations: tuple[tuple[str, str], ...]
    """(name, display name) of each organization, for the application's buttons."""
    changes: str
    """The plan that was applied ("no changes" from the second start on)."""
    kept: str = ""
    """Differences from ``demo.yaml`` left in place (changes applied since the demo tenant
    was seeded, kept unless ``--reset``), as a plan; empty when there are none."""


def variables(app: Flask, port: int, rp_port: int) -> dict[str, str]:
    """The ``${...}`` values ``demo.yaml`` refers to."""
    instance = app.extensions["foyer.settings"].instance
    secret = _read_or_create(instance / "demo_client_secret", lambda: secrets.token_urlsafe(32))
    partner = _read_or_create(instance / "demo_partner_secret", lambda: secrets.token_urlsafe(32))
    return {
        "FOYER_DEMO_PARTNER_SECRET": partner,
        "FOYER_DEMO_PORT": str(port),
        "FOYER_DEMO_RP_PORT": str(rp_port),
        "FOYER_DEMO_CLIENT_SECRET": secret,
        "FOYER_DEMO_PASSWORD": DEMO_PASSWORD,
    }


def seed(app: Flask, port: int = 5000, rp_port: int = 5001, reset: bool = False) -> Demo:
    """Apply ``demo.yaml`` (inside ``app``'s context) the first time; idempotent.

    Once the demo tenant exists, what was applied on top of it (an integrator's own
    ``foyer apply``) is kept: the file is applied again only with ``reset``, or when the
    ports changed (the tenant's addresses must follow them); :attr:`Demo.kept` lists the
    differences kept.

    :raises ConfigInvalid: only if the shipped file is broken.
    """
    # CLI start-up time: apply pulls in PyYAML and every room's services
    from app.configfile import apply

    env = variables(app, port, rp_port)
    text = DEMO_FILE.read_text(encoding="utf-8")
    spec, _ = apply.load_file(text, str(DEMO_FILE), env)
    foyer_url = f"http://localhost:{port}"
    stored = find_tenant(spec["tenant"]["name"])
    kept = ""
    if stored is not None and not reset and foyer_url in {d.base_url for d in stored.domains}:
        plan = apply.apply_text(text, str(DEMO_FILE), env=env, dry_run=True)
        assert isinstance(plan, apply.Plan)
        kept = "" if plan.empty else plan.render()
    if kept:
        changes = f"tenant {spec['tenant']['name']}: kept as it is"
    else:
        result = apply.apply_text(text, str(DEMO_FILE), env=env)
        assert isinstance(result, apply.Result)
        changes = result.plan.render()
    return Demo(
        foyer_url=foyer_url,
        rp_url=f"http://localhost:{rp_port}",
        client_id=CLIENT_ID,
        client_secret=env["FOYER_DEMO_CLIENT_SECRET"],
        partner_client_id=PARTNER_CLIENT_ID,
        partner_client_secret=env["FOYER_DEMO_PARTNER_SECRET"],
        accounts=tuple(accounts(spec)),
        organizations=tuple((o["name"], o["display_name"]) for o in spec["organizations"]),
        changes=changes,
        kept=kept,
    )


def accounts(spec: dict[str, t.Any]) -> t.Iterator[Account]:
    """The file's users with the organizations they sign in to: shared-pool users by
    membership, isolated users by their email domain."""
    names = {o["name"]: o["display_name"] for o in spec["organizations"]}
    by_domain = {d["domain"]: o["name"] for o in spec["organizations"] for d in o["email_domains"]}
    for user in spec["users"]:
        memberships = tuple(
            f"{names[m['name']]} ({', '.join(m['roles'])})" if m["roles"] else names[m["name"]]
            for m in user["organizations"]
        )
        if not memberships:
            org = by_domain.get(user["email"].rpartition("@")[2])
            memberships = (names[org],) if org else ()
        yield Account(
            user["email"],
            user["name"] or "",
            user["connection"],
            memberships,
            shared=bool(user["organizations"]),
        )
