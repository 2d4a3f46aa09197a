"""Seed the e2e tenant with organizations for every home realm discovery method.

Called by ``e2e/seed.py``:

- Northwind (isolated users, ``northwind.e2e.test``, vanity host ``northwind.localhost``);
- Contoso (its own staff plus the shared partner pool, ``contoso.e2e.test``);
- Fabrikam (the shared partner pool only; ``*@partners.e2e.test`` is routed there by the
  identifier map);
- Umbrella (its own OpenID Connect IdP, ``umbrella-sso``, for ``umbrella.e2e.test``, when
  the suite started one: npm's oidc-provider at ``upstream``), support address
  ``help@umbrella.e2e.test`` and a brand color of its own; beside its IdP, a password
  connection for its contractors (``umbrella-staff``) and the Google, Microsoft and GitHub
  buttons (GitHub's stand-in at ``github`` when the suite started one).

The tenant lists its organizations on the picker (``hrd.organization_picker: list``).
"""

from __future__ import annotations

import typing as t

from app.accounts.services import create_user
from app.connections.services import create_connection
from app.hrd.identifier_map import set_route
from app.orgs.services import add_member
from app.orgs.services import create_organization
from app.orgs.services import set_email_domains
from app.tenancy.services import set_domains

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

PASSWORD = "hrd e2e password that is long"
UPSTREAM_CLIENT_SECRET = "upstream client secret"
"""The secret e2e/conftest.py registers Foyer with at the upstream IdP."""
GITHUB_CLIENT_ID = "Iv1.foyer-test"
GITHUB_CLIENT_SECRET = "github client secret"
"""What GitHub's stand-in (tests/federation/github_api.py) knows Foyer by."""
UMBRELLA_PRIMARY = "#8a1538"
"""Umbrella's brand color: its pages' buttons carry it."""


def seed_hrd(
    tenant: Tenant, port: int, rp_port: int, upstream: str | None, github: str | None = None
) -> dict[str, t.Any]:
    """Create the organizations and their users; returns the accounts file's ``hrd`` entry."""
    tenant.settings = {**(tenant.settings or {}), "hrd": {"organization_picker": "list"}}
    northwind_staff = create_connection(tenant, "northwind-staff", "database", "Northwind staff")
    contoso_staff = create_connection(tenant, "contoso-staff", "database", "Contoso staff")
    partners = create_connection(tenant, "partners", "database", "Partner accounts")
    northwind = create_organization(
        tenant, "northwind", "Northwind Traders", connections=[northwind_staff]
    )
    contoso = create_organization(
        tenant, "contoso", "Contoso", connections=[contoso_staff, partners]
    )
    fabrikam = create_organization(tenant, "fabrikam", "Fabrikam", connections=[partners])
    set_email_domains(northwind, [("northwind.e2e.test", True, northwind_staff.id)])
    set_email_domains(contoso, [("contoso.e2e.test", False, contoso_staff.id)])
    set_route(tenant, "*@partners.e2e.test", fabrikam)
    host = f"http://northwind.localhost:{port}"
    set_domains(
        tenant, [(d.base_url, d.organization_id) for d in tenant.domains] + [(host, northwind.id)]
    )
    users = {
        "nina": ("nina@northwind.e2e.test", "Nina Northwind", northwind_staff, "northwind"),
        "carl": ("carl@contoso.e2e.test", "Carl Contoso", contoso_staff, "contoso"),
        "pia": ("pia@partners.e2e.test", "Pia Partner", partners, "fabrikam"),
    }
    accounts: dict[str, t.Any] = {"users": {}, "organizations": {}}
    for key, (email, name, connection, organization) in users.items():
        user = create_user(
            connection, email=email, password=PASSWORD, name=name, email_verified=True
        )
        if connection is partners:
            add_member(fabrikam, user)
        accounts["users"][key] = {
            "email": email,
            "password": PASSWORD,
            "name": name,
            "organization": organization,
        }
    for org in (northwind, contoso, fabrikam):
        accounts["organizations"][org.name] = {"name": org.name, "display_name": org.display_name}
    accounts["organizations"]["northwind"]["host"] = host
    if upstream:
        accounts["upstream"] = seed_umbrella(tenant, upstream, github)
    return accounts


def seed_umbrella(tenant: Tenant, upstream: str, github: str | None) -> dict[str, t.Any]:
    """Umbrella: its IdP, a password connection and social buttons side by side."""
    sso = create_connection(
        tenant,
        "umbrella-sso",
        "oidc",
        "Umbrella SSO",
        options={"issuer": upstream, "client_id": "foyer-basic"},
        secrets={"client_secret": UPSTREAM_CLIENT_SECRET},
    )
    staff = create_connection(tenant, "umbrella-staff", "database", "Umbrella contractors")
    social = [
        create_connection(
            tenant,
            f"umbrella-{strategy}",
            strategy,
            label,
            options={"client_id": f"umbrella-{strategy}"},
            secrets={"client_secret": "not used: the scenarios never press it"},
        )
        for strategy, label in (("google", "Google"), ("microsoft", "Microsoft"))
    ]
    if github:
        social.append(
            create_connection(
                tenant,
                "umbrella-github",
                "github",
                "GitHub",
                options={
                    "client_id": GITHUB_CLIENT_ID,
                    "base_url": github,
                    "api_url": f"{github}/api",
                },
                secrets={"client_secret": GITHUB_CLIENT_SECRET},
            )
        )
    umbrella = create_organization(
        tenant,
        "umbrella",
        "Umbrella",
        connections=[staff, sso, *social],
        branding={
            "support_email": "help@umbrella.e2e.test",
            "colors": {"primary": UMBRELLA_PRIMARY},
        },
    )
    set_email_domains(umbrella, [("umbrella.e2e.test", False, sso.id)])
    contractor = "ursula@umbrella-contractors.e2e.test"
    create_user(staff, email=contractor, password=PASSWORD, name="Ursula", email_verified=True)
    return {
        "email": "una@umbrella.e2e.test",
        "login": "una",
        "issuer": upstream,
        "organization": "Umbrella",
        "support_email": "help@umbrella.e2e.test",
        "primary_color": UMBRELLA_PRIMARY,
        "contractor": {"email": contractor, "password": PASSWORD},
        "github": {"email": "octo@umbrella-social.e2e.test"} if github else None,
    }
