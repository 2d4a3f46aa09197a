"""Applying a file: read, checked, then every change in one transaction, committed only if
all succeed.

Order matters for unique names: deletions (prune) first, then connections, organizations
(email domains leave their old organization before joining a new one), host names,
applications and users.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import typing as t

import sqlalchemy as sa
from flask import has_app_context

from app.accounts.models import User
from app.accounts.services import create_user
from app.clients.services import create_client
from app.clients.services import hash_client_secret
from app.configfile.checks import check_partial
from app.configfile.checks import check_spec
from app.configfile.plan import ROUTE
from app.configfile.plan import Plan
from app.configfile.plan import build_plan
from app.configfile.problems import ConfigInvalid
from app.configfile.snapshot import CLIENT_SETTINGS
from app.configfile.snapshot import TENANT_SETTINGS
from app.configfile.snapshot import clients as stored_clients
from app.configfile.snapshot import connections as stored_connections
from app.configfile.snapshot import desired_tenant
from app.configfile.snapshot import find_user
from app.configfile.snapshot import organizations as stored_organizations
from app.configfile.source import read_source
from app.configfile.spec import read_spec
from app.connections.services import create_connection
from app.connections.strategies import strategy_for
from app.db import session
from app.events.record import record_event
from app.hrd.identifier_map import remove_route
from app.hrd.identifier_map import set_route
from app.oidc.keys import DEFAULT_ALG
from app.oidc.keys import forget_keys
from app.oidc.keys import stage_keys
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.services import create_organization
from app.orgs.services import find_organization
from app.orgs.services import remove_member
from app.orgs.services import set_connections
from app.orgs.services import set_email_domains
from app.orgs.services import set_member_roles
from app.tenancy.services import create_tenant
from app.tenancy.services import set_domains

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.tenancy.models import Tenant

State = dict[str, t.Any]


@dataclasses.dataclass
class Result:
    """What ``apply`` did: the plan, and secrets generated for new clients (shown once)."""

    plan: Plan
    generated_secrets: dict[str, str] = dataclasses.field(default_factory=dict)
    tenant: Tenant | None = None


def plan_file(spec: State, reader: t.Any, prune: bool = False) -> Plan:
    """Check ``spec`` against the database and return the plan (reads only)."""
    check_spec(spec, reader, prune or bool(spec["tenant"]["prune"]))
    return build_plan(spec, prune)


def apply_spec(spec: State, reader: t.Any, prune: bool = False, source: str = "") -> Result:
    """Check, plan and apply in one transaction; on any error nothing is kept.

    :param source: File name recorded in the ``config_applied`` event.
    :raises ConfigInvalid: when checks fail (nothing written).
    """
    try:
        plan = plan_file(spec, reader, prune)
        result = Result(plan)
        if not plan.empty:
            result.tenant = _execute(plan, spec, result)
        tenant = result.tenant or plan.tenant
        keys_added = False
        if tenant is not None:
            # in the same transaction: a key that cannot be made (or stored) leaves nothing
            algs = {DEFAULT_ALG} | {client["id_token_alg"] for client in spec["clients"]}
            session.flush()
            keys_added = stage_keys(session, tenant.id, sorted(algs))
        if plan.empty and not keys_added:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    if tenant is not None and keys_added:
        forget_keys(tenant.id)
    if not plan.empty:
        record_event(
            "config_applied",
            tenant=result.tenant,
            data={**plan.counts(), "source": source, "prune": plan.prune},
        )
    return result


def load_file(
    text: str, name: str, env: t.Mapping[str, str] | None = None
) -> tuple[dict[str, t.Any], t.Any]:
    """Read and check a file's format; raises ConfigInvalid.

    With an app context, an invalid file also gets the checks across fields and against
    the database, so every problem comes at once, in file order.
    """
    try:
        return read_spec(read_source(text, name, env))
    except ConfigInvalid as exc:
        if exc.partial is None or not has_app_context():
            raise
        spec, reader = exc.partial
        prune = bool((spec.get("tenant") or {}).get("prune"))
        raise ConfigInvalid(exc.problems + check_partial(spec, reader, prune)) from None


def apply_text(
    text: str,
    name: str = "<config>",
    *,
    env: t.Mapping[str, str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
) -> Result | Plan:
    """Apply (or with ``dry_run`` only plan) a file's text; for ``foyer demo`` and tests.

    :raises ConfigInvalid: the file is invalid; nothing was written.
    """
    spec, reader = load_file(text, name, env)
    return run(spec, reader, name, dry_run=dry_run, prune=prune)


def run(
    spec: dict[str, t.Any], reader: t.Any, name: str, *, dry_run: bool, prune: bool
) -> Result | Plan:
    """Plan (``dry_run``) or apply a loaded file."""
    if dry_run:
        try:
            return plan_file(spec, reader, prune)
        finally:
            session.rollback()
    return apply_spec(spec, reader, prune, source=os.path.basename(name))


def _execute(plan: Plan, spec: State, result: Result) -> Tenant:
    tenant = _tenant(plan, spec)
    _prune(plan, tenant)
    connections = _connections(plan, tenant)
    organizations = _organizations(plan, spec, tenant, connections)
    _domains(spec, tenant, organizations)
    _clients(plan, tenant, result)
    _identifier_map(plan, tenant, organizations, connections)
    _users(plan, tenant, connections)
    session.flush()
    return tenant


def _tenant(plan: Plan, spec: State) -> Tenant:
    desired = desired_tenant(spec)
    tenant = plan.tenant
    if tenant is None:
        tenant = create_tenant(
            desired["name"], desired["display_name"], [], desired["default_locale"]
        )
    tenant.display_name = desired["display_name"]
    tenant.default_locale = desired["default_locale"]
    settings = {k: v for k, v in (tenant.settings or {}).items() if k not in TENANT_SETTINGS}
    for key in TENANT_SETTINGS:
        if desired[key] not in (None, {}, False):  # defaults are not stored
            settings[key] = desired[key]
    tenant.settings = settings
    session.flush()
    return tenant


def _prune(plan: Plan, tenant: Tenant) -> None:
    """Delete what the file no longer lists (only with prune), before names are reused."""
    deleted = False
    for kind, stored in (
        ("client", stored_clients),
        ("organization", stored_organizations),
        ("connection", stored_connections),
    ):
        objects = stored(tenant)
        for change in plan.of(kind, "delete"):
            session.delete(objects[change.name])
            deleted = True
    if deleted:
        session.flush()
        session.expire_all()  # the database cascaded links, domains and users


def _connections(plan: Plan, tenant: Tenant) -> dict[str, Connection]:
    stored = stored_connections(tenant)
    for change in plan.of("connection"):
        item = change.desired
        if item is None:
            continue
        connection = stored.get(item["name"])
        if connection is None:
            connection = create_connection(
                tenant,
                item["name"],
                item["strategy"],
                item["display_name"] or item["name"],
                item["options"],
                item.get("secrets"),
            )
            stored[item["name"]] = connection
        else:
            connection.display_name = item["display_name"] or item["name"]
            connection.options = item["options"]
            if "secrets" in item:
                connection.set_secrets(item["secrets"])
        connection.signup_enabled = item["signup"]
        connection.enabled = item["enabled"]
    session.flush()
    return stored


def _organizations(
    plan: Plan, spec: State, tenant: Tenant, connections: dict[str, Connection]
) -> dict[str, Organization]:
    stored = stored_organizations(tenant)
    changed = {c.name for c in plan.of("organization") if c.desired is not None}
    for item in spec["organizations"]:
        if item["name"] not in changed:
            continue
        fields = {
            "theme": item["theme"],
            "branding": _clean(item["branding"]),
            "metadata_": item["metadata"],
            "default_locale": item["default_locale"],
            "plugins": item["plugins"],
            "require_two_step": item["require_two_step"],
        }
        org = stored.get(item["name"])
        if org is None:
            org = create_organization(tenant, item["name"], item["display_name"], **fields)
            stored[item["name"]] = org
        else:
            org.display_name = item["display_name"]
            for key, value in fields.items():
                setattr(org, key, value)
        set_connections(org, [connections[name] for name in item["connections"]])
    # email domains: first let every organization drop what it loses, then add
    wanted = {
        item["name"]: [
            (
                d["domain"],
                d["include_subdomains"],
                connections[d["connection"]].id if d["connection"] else None,
            )
            for d in item["email_domains"]
        ]
        for item in spec["organizations"]
        if item["name"] in changed
    }
    for name, domains in wanted.items():
        kept = {row.domain for row in stored[name].email_domains}
        set_email_domains(stored[name], [d for d in domains if d[0] in kept])
    for name, domains in wanted.items():
        set_email_domains(stored[name], domains)
    return stored


def _clean(branding: State) -> State:
    return {k: v for k, v in branding.items() if v not in (None, {}, "")}


def _domains(spec: State, tenant: Tenant, organizations: dict[str, Organization]) -> None:
    wanted: list[tuple[str, str | None]] = [(d, None) for d in desired_tenant(spec)["domains"]]
    listed = {o["name"] for o in spec["organizations"]}
    for item in spec["organizations"]:
        wanted += [(d, organizations[item["name"]].id) for d in item["domains"]]
    # organizations the file does not list keep their vanity hosts
    for name, org in organizations.items():
        if name not in listed:
            wanted += [(d.base_url, org.id) for d in tenant.domains if d.organization_id == org.id]
    set_domains(tenant, wanted)


def _clients(plan: Plan, tenant: Tenant, result: Result) -> None:
    stored = stored_clients(tenant)
    for change in plan.of("client"):
        item = change.desired
        if item is None:
            continue
        fields = {
            "redirect_uris": item["redirect_uris"],
            "post_logout_redirect_uris": item["post_logout_redirect_uris"],
            "grant_types": item["grant_types"],
            "scope": item["scope"],
            "audience": item["audience"],
            "id_token_signed_response_alg": item["id_token_alg"],
            "organization_usage": item["organization_usage"],
        }
        public = item["auth_method"] == "none"
        client = stored.get(item["client_id"])
        if client is None:
            client, secret = create_client(
                tenant,
                item["name"],
                client_id=item["client_id"],
                secret=item.get("secret"),
                token_endpoint_auth_method=item["auth_method"],
                **fields,
            )
            if secret and "secret" not in item:
                result.generated_secrets[client.client_id] = secret
            _client_settings(client, item)
            continue
        client.name = item["name"]
        client.token_endpoint_auth_method = item["auth_method"]
        for key, value in fields.items():
            setattr(client, key, value)
        if public:
            client.secret_hash = None
        elif "secret" in item:
            client.secret_hash = hash_client_secret(item["secret"])
        elif not client.secret_hash:
            secret = secrets.token_urlsafe(32)
            client.secret_hash = hash_client_secret(secret)
            result.generated_secrets[client.client_id] = secret
        _client_settings(client, item)
    session.flush()


def _client_settings(client: Client, item: State) -> None:
    """File fields kept in ``Client.settings`` (other keys there are left as they are)."""
    settings = dict(client.settings or {})
    for key in CLIENT_SETTINGS:
        if item[key] is None:
            settings.pop(key, None)
        else:
            settings[key] = item[key]
    settings["require_pkce"] = item["require_pkce"]
    branding = {k: v for k, v in (settings.get("branding") or {}).items() if k != "theme"}
    if item["theme"] is not None:
        branding["theme"] = item["theme"]
    if branding:
        settings["branding"] = branding
    else:
        settings.pop("branding", None)
    settings["metadata"] = item["metadata"]
    client.settings = settings


def _identifier_map(
    plan: Plan,
    tenant: Tenant,
    organizations: dict[str, Organization],
    connections: dict[str, Connection],
) -> None:
    for change in plan.of(ROUTE):
        item = change.desired
        if item is None:
            remove_route(tenant, change.name)
            continue
        set_route(
            tenant,
            item["identifier"],
            organizations[item["organization"]] if item["organization"] else None,
            connections[item["connection"]] if item["connection"] else None,
        )
    session.flush()


PROFILE = ("name", "given_name", "family_name", "locale", "email_verified", "blocked")


def _users(plan: Plan, tenant: Tenant, connections: dict[str, Connection]) -> None:
    for change in plan.of("user"):
        item = change.desired
        if item is None:
            continue
        connection = connections[item["connection"]]
        user = find_user(connection, item["email"], item["username"])
        profile = {key: item[key] for key in PROFILE}
        if user is None:
            user = create_user(
                connection,
                email=item["email"],
                username=item["username"],
                password=item.get("password"),
                password_hash=item.get("password_hash"),
                **profile,
            )
        else:
            user.username = item["username"]
            for key, value in profile.items():
                setattr(user, key, value)
            if "password_hash" in item and user.password_hash != item["password_hash"]:
                user.password_hash = item["password_hash"]
            elif any(f.field == "password" for f in change.fields) and "password" in item:
                strategy_for(connection).set_password(user, item["password"])
            if item["email"]:
                user.email = item["email"]
        _memberships(tenant, user, {m["name"]: m["roles"] for m in item["organizations"]})
    session.flush()


def _memberships(tenant: Tenant, user: User, wanted: dict[str, list[str]]) -> None:
    """Exactly the listed memberships, mirrored in ``app_metadata.organizations``."""
    current = session.scalars(
        sa.select(Organization)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id)
    ).all()
    for org in current:
        if org.name not in wanted:
            remove_member(org, user)
    for name, roles in wanted.items():
        member_of = find_organization(tenant, name)
        assert member_of is not None  # checked before anything was written
        set_member_roles(member_of, user, roles)
