"""Checks that span several fields or need the database: references between objects,
unique names, email domains claimed twice, registered strategies, plugins and themes.

They run before anything is written, and every problem names the field and its line.
"""

from __future__ import annotations

import logging
import typing as t

import sqlalchemy as sa
from flask import current_app

from app.accounts.password_strength import DEFAULT_MIN_SCORE
from app.accounts.services import PasswordRejected
from app.accounts.services import check_password_policy
from app.accounts.services import normalize_email
from app.branding.data import validate_branding
from app.clients.models import Client
from app.clients.services import ClientInvalid
from app.clients.services import validate_client
from app.clikit import did_you_mean
from app.configfile.problems import ConfigInvalid
from app.configfile.problems import Problem
from app.configfile.schema import Reader
from app.connections.models import Connection
from app.connections.services import check_connection
from app.db import session
from app.hooks import validate_plugin_settings
from app.hrd.chain import registered_methods
from app.orgs.models import Organization
from app.orgs.models import OrgDomain
from app.tenancy.models import TenantDomain
from app.tenancy.services import find_tenant
from app.tenancy.services import parse_domain

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

Spec = dict[str, t.Any]
log = logging.getLogger(__name__)


def check_spec(spec: Spec, reader: Reader, prune: bool) -> None:
    """Run every cross-field check; raises ConfigInvalid listing all problems."""
    tenant = find_tenant(spec["tenant"]["name"])
    checker = _Checker(spec, reader, tenant, prune)
    checker.run()
    if reader.problems:
        raise ConfigInvalid(reader.problems)


def check_partial(spec: Spec, reader: Reader, prune: bool) -> list[Problem]:
    """The problems the checks across fields find in a file read past its mistakes
    (:class:`~app.configfile.schema.Reader` ``lenient``), leaving out those inside a field
    that already has one: they would only repeat it."""
    before = list(reader.problems)
    reader.problems = []
    try:
        tenant = find_tenant(spec["tenant"]["name"]) if spec["tenant"]["name"] else None
    except Exception:  # noqa: BLE001 - a name that cannot be looked up: no stored state
        tenant = None
    _Checker(spec, reader, tenant, prune).run()
    known = [p.path for p in before if p.path]
    found = [
        problem
        for problem in reader.problems
        if not any(
            problem.path == path or problem.path.startswith((f"{path}.", f"{path}["))
            for path in known
        )
        and "None" not in problem.message
    ]
    reader.problems = before
    return found


class _Checker:
    def __init__(self, spec: Spec, reader: Reader, tenant: Tenant | None, prune: bool) -> None:
        self.spec = spec
        self.reader = reader
        self.tenant = tenant
        self.prune = prune
        self.stored_connections: dict[str, Connection] = {}
        self.stored_orgs: dict[str, Organization] = {}
        if tenant is not None:
            self.stored_connections = {
                c.name: c
                for c in session.scalars(
                    sa.select(Connection).where(Connection.tenant_id == tenant.id)
                )
            }
            self.stored_orgs = {
                o.name: o
                for o in session.scalars(
                    sa.select(Organization).where(Organization.tenant_id == tenant.id)
                )
            }

    def problem(self, path: str, message: str) -> None:
        self.reader.problem_at(path, message)

    def run(self) -> None:
        steps: list[t.Callable[[], None]] = [
            lambda: self.unique("connections", lambda c: c["name"], "connection name", "name"),
            lambda: self.unique("organizations", lambda o: o["name"], "organization name", "name"),
            lambda: self.unique("clients", lambda c: c["client_id"], "client_id", "client_id"),
            lambda: self.unique(
                "users",
                lambda u: (
                    u["connection"],
                    normalize_email(u["email"]) if u["email"] else None,
                    u["username"],
                ),
                "user",
                "email",
            ),
            lambda: self.unique(
                "identifier_map", lambda r: r["identifier"], "identifier map entry", "identifier"
            ),
            self.tenant_plugins_and_theme,
            self.hrd_order,
            self.connections,
            self.organizations,
            self.email_domains,
            self.domains,
            self.clients,
            self.identifier_map,
            self.users,
        ]
        for step in steps:
            if not self.reader.lenient:
                step()
                continue
            try:  # a file read past its mistakes: a check its gaps trip over says nothing
                step()
            except Exception:  # noqa: BLE001
                log.debug("check skipped on a file with mistakes", exc_info=True)

    # -- names -----------------------------------------------------------------------------

    def unique(self, section: str, key: t.Callable[[Spec], t.Any], what: str, field: str) -> None:
        seen: dict[t.Any, int] = {}
        for index, item in enumerate(self.spec[section]):
            value = key(item)
            if value in seen:
                first = self.reader.nodes.get(f"{section}[{seen[value]}]")
                line = f" (first at line {first.start_mark.line + 1})" if first else ""
                self.problem(f"{section}[{index}].{field}", f"{what} given twice{line}")
            else:
                seen[value] = index

    def known_connections(self) -> set[str]:
        names = {c["name"] for c in self.spec["connections"]}
        if not self.prune:
            names |= set(self.stored_connections)
        return names

    def known_organizations(self) -> set[str]:
        names = {o["name"] for o in self.spec["organizations"]}
        if not self.prune:
            names |= set(self.stored_orgs)
        return names

    # -- plugins, themes, strategies -----------------------------------------------------

    def plugins(self, path: str, plugins: dict[str, t.Any]) -> None:
        pm = current_app.extensions["foyer.pm"]
        names = [name for name, _ in pm.list_name_plugin()]
        for name, settings in plugins.items():
            if pm.get_plugin(name) is None:
                self.problem(
                    f"{path}.{name}",
                    f"no plugin named {name!r} is installed" + did_you_mean(name, names),
                )
                continue
            for error in validate_plugin_settings(name, settings):
                self.problem(f"{path}.{name}", error.removeprefix(f"{name}: "))

    def theme(self, path: str, name: str | None) -> None:
        themes = current_app.extensions["foyer.themes"]
        if name is not None and name not in themes:
            self.problem(
                path,
                f"no theme named {name!r} is installed" + did_you_mean(name, list(themes.themes)),
            )

    def branding(self, path: str, data: dict[str, t.Any]) -> None:
        """The branding rules pages and admin tools share (app.branding.data)."""
        _clean, problems = validate_branding(data)
        for problem in problems:
            self.problem(f"{path}.{problem.field}", problem.message)

    def tenant_plugins_and_theme(self) -> None:
        self.plugins("tenant.plugins", self.spec["tenant"]["plugins"])
        self.theme("tenant.theme", self.spec["tenant"]["theme"])
        self.branding("tenant.branding", self.spec["tenant"]["branding"])

    def connections(self) -> None:
        for index, connection in enumerate(self.spec["connections"]):
            stored = self.stored_connections.get(connection["name"])
            problems = check_connection(
                connection["strategy"], connection["options"], connection.get("secrets"), stored
            )
            for field, message in problems:
                self.problem(f"connections[{index}].{field}", message)

    # -- organizations ---------------------------------------------------------------------

    def organizations(self) -> None:
        known = self.known_connections()
        for index, org in enumerate(self.spec["organizations"]):
            path = f"organizations[{index}]"
            self.plugins(f"{path}.plugins", org["plugins"])
            self.theme(f"{path}.theme", org["theme"])
            self.branding(f"{path}.branding", org["branding"])
            seen: set[str] = set()
            for position, name in enumerate(org["connections"]):
                if name in seen:
                    self.problem(f"{path}.connections[{position}]", f"{name!r} is listed twice")
                seen.add(name)
                if name not in known:
                    self.problem(
                        f"{path}.connections[{position}]",
                        f"no connection named {name!r}" + did_you_mean(name, known),
                    )
            for position, domain in enumerate(org["email_domains"]):
                connection = domain["connection"]
                if connection is not None and connection not in org["connections"]:
                    self.problem(
                        f"{path}.email_domains[{position}].connection",
                        f"connection {connection!r} is not enabled for this organization "
                        "(add it to its connections)",
                    )

    def email_domains(self) -> None:
        """One email domain, one organization: HRD must never have to guess."""
        claimed: dict[str, tuple[str, str]] = {}
        for index, org in enumerate(self.spec["organizations"]):
            for position, item in enumerate(org["email_domains"]):
                path = f"organizations[{index}].email_domains[{position}].domain"
                domain = item["domain"]
                if domain in claimed:
                    other, other_path = claimed[domain]
                    node = self.reader.nodes.get(other_path)
                    line = f" at line {node.start_mark.line + 1}" if node else ""
                    where = "this organization" if other == org["name"] else repr(other)
                    self.problem(
                        path,
                        f"email domain {domain} is already claimed by {where}{line}; "
                        "an email domain belongs to one organization",
                    )
                else:
                    claimed[domain] = (org["name"], path)
        if self.tenant is None or self.prune:
            return
        in_file = {o["name"] for o in self.spec["organizations"]}
        rows = session.execute(
            sa.select(OrgDomain.domain, Organization.name)
            .join(Organization, Organization.id == OrgDomain.organization_id)
            .where(OrgDomain.tenant_id == self.tenant.id)
        )
        for domain, org_name in rows:
            if org_name not in in_file and domain in claimed:
                self.problem(
                    claimed[domain][1],
                    f"email domain {domain} is claimed by organization {org_name!r}, which "
                    "this file does not list (remove it there, or use prune)",
                )

    # -- home realm discovery ---------------------------------------------------------------

    def hrd_order(self) -> None:
        order = (self.spec["tenant"]["hrd"] or {}).get("order") or []
        installed = registered_methods()
        seen: set[str] = set()
        for position, name in enumerate(order):
            path = f"tenant.hrd.order[{position}]"
            if name in seen:
                self.problem(path, f"{name!r} is listed twice")
            seen.add(name)
            if name not in installed:
                self.problem(
                    path,
                    f"no discovery method named {name!r} is installed"
                    + did_you_mean(name, list(installed)),
                )

    def identifier_map(self) -> None:
        connections = self.known_connections()
        organizations = self.known_organizations()
        enabled = {o["name"]: set(o["connections"]) for o in self.spec["organizations"]}
        for name, org in self.stored_orgs.items():
            if name not in enabled:
                enabled[name] = {c.name for c in org.connections}
        for index, route in enumerate(self.spec["identifier_map"]):
            path = f"identifier_map[{index}]"
            organization, connection = route["organization"], route["connection"]
            if organization is None and connection is None:
                self.problem(path, "give an organization, a connection or both")
            if organization is not None and organization not in organizations:
                self.problem(
                    f"{path}.organization",
                    f"no organization named {organization!r}"
                    + did_you_mean(organization, organizations),
                )
            if connection is not None and connection not in connections:
                self.problem(
                    f"{path}.connection",
                    f"no connection named {connection!r}" + did_you_mean(connection, connections),
                )
            elif (
                organization in enabled
                and connection is not None
                and (connection not in enabled[organization])
            ):
                self.problem(
                    f"{path}.connection",
                    f"connection {connection!r} is not enabled for organization {organization!r}",
                )

    # -- host names -------------------------------------------------------------------------

    def domains(self) -> None:
        owners: dict[str, str] = {}
        listed = [("tenant.domains", self.spec["tenant"]["domains"])] + [
            (f"organizations[{i}].domains", o["domains"])
            for i, o in enumerate(self.spec["organizations"])
        ]
        for base, values in listed:
            for position, value in enumerate(values):
                path = f"{base}[{position}]"
                host = parse_domain(value)[1]
                if host in owners:
                    self.problem(path, f"host name {host} is given twice (also {owners[host]})")
                    continue
                owners[host] = path
        if not owners:
            return
        query = sa.select(TenantDomain).where(TenantDomain.hostname.in_(list(owners)))
        if self.tenant is not None:
            query = query.where(TenantDomain.tenant_id != self.tenant.id)
        for row in session.scalars(query):
            self.problem(
                owners[row.hostname],
                f"host name {row.hostname} already serves tenant {row.tenant.name!r}",
            )

    # -- clients ------------------------------------------------------------------------------

    def clients(self) -> None:
        for index, client in enumerate(self.spec["clients"]):
            path = f"clients[{index}]"
            self.theme(f"{path}.theme", client["theme"])
            try:
                validate_client(
                    client["auth_method"],
                    client["grant_types"],
                    client["redirect_uris"],
                    client["post_logout_redirect_uris"],
                    client["require_pkce"],
                )
            except ClientInvalid as exc:
                field, _, message = str(exc).partition(": ")
                target = {"token_endpoint_auth_method": "auth_method"}.get(field, field)
                if target not in client:
                    target, message = "", str(exc)
                self.problem(f"{path}.{target}" if target else path, message)
            if client["auth_method"] == "none" and "secret" in client:
                self.problem(f"{path}.secret", "a public client (auth_method: none) has no secret")
            stored = session.scalar(
                sa.select(Client).where(Client.client_id == client["client_id"])
            )
            if stored is not None and (self.tenant is None or stored.tenant_id != self.tenant.id):
                self.problem(
                    f"{path}.client_id",
                    f"client_id {client['client_id']!r} is used by another tenant",
                )

    # -- users --------------------------------------------------------------------------------

    def users(self) -> None:
        registry = current_app.extensions["foyer.strategies"]
        strategies = {c["name"]: c["strategy"] for c in self.spec["connections"]}
        if not self.prune:
            for name, stored in self.stored_connections.items():
                strategies.setdefault(name, stored.strategy)
        organizations = self.known_organizations()
        min_score = (self.spec["tenant"]["passwords"] or {}).get("min_score", DEFAULT_MIN_SCORE)
        for index, user in enumerate(self.spec["users"]):
            path = f"users[{index}]"
            connection = user["connection"]
            if connection not in strategies:
                self.problem(
                    f"{path}.connection",
                    f"no connection named {connection!r}" + did_you_mean(connection, strategies),
                )
            elif "password" in user or "password_hash" in user:
                strategy = registry.get(strategies[connection])
                if strategy is not None and getattr(strategy, "kind", "") != "password":
                    self.problem(
                        f"{path}.password",
                        f"connection {connection!r} does not keep passwords",
                    )
            if not user["email"] and not user["username"]:
                self.problem(path, "give an email or a username")
            if "password" in user and "password_hash" in user:
                self.problem(f"{path}.password_hash", "give password or password_hash, not both")
            if "password" in user:
                try:
                    check_password_policy(
                        user["password"],
                        email=user["email"],
                        names=[user["name"], user["given_name"], user["family_name"]],
                        min_score=min_score,
                    )
                except PasswordRejected as exc:
                    self.problem(f"{path}.password", f"the password is refused: {exc}")
            for position, membership in enumerate(user["organizations"]):
                name = membership["name"]
                if name not in organizations:
                    self.problem(
                        f"{path}.organizations[{position}].name",
                        f"no organization named {name!r}" + did_you_mean(name, organizations),
                    )
