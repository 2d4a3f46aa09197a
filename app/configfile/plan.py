"""What applying a file would change: create, update or delete per object, field by field.

The plan is computed from reads only, so ``--dry-run`` prints it and writes nothing. Secret
values never appear: a changed secret shows as ``(changed)``.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t

import sqlalchemy as sa

from app.accounts.models import User
from app.clients.services import hash_client_secret
from app.configfile import snapshot
from app.configfile.schema import Record
from app.configfile.spec import CLIENT
from app.configfile.spec import CONNECTION
from app.configfile.spec import IDENTIFIER_ROUTE
from app.configfile.spec import ORGANIZATION
from app.configfile.spec import TENANT
from app.configfile.spec import USER
from app.db import session
from app.security.crypto import constant_time_equal
from app.security.passwords import verify_password
from app.tenancy.services import find_tenant

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.tenancy.models import Tenant

State = dict[str, t.Any]
KINDS = ("tenant", "connection", "organization", "client", "identifier map entry", "user")
ROUTE = "identifier map entry"
SYMBOL = {"create": "+", "update": "~", "delete": "-"}


@dataclasses.dataclass
class FieldChange:
    field: str
    old: t.Any
    new: t.Any
    secret: bool = False

    def as_json(self) -> dict[str, t.Any]:
        if self.secret:  # never the value: "(set)", "(changed)"...
            return {"field": self.field, "secret": True, "change": str(self.new)}
        answer: dict[str, t.Any] = {"field": self.field, "new": self.new}
        if self.old is not _ABSENT:
            answer["old"] = self.old
        return answer

    def render(self) -> str:
        if self.secret:
            return f"{self.field}: {self.new}"
        if self.old is _ABSENT:
            return f"{self.field}: {_show(self.new)}"
        return f"{self.field}: {_show(self.old)} -> {_show(self.new)}"


_ABSENT: t.Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()


@dataclasses.dataclass
class Change:
    """One object to create, update or delete, with the file's values (``desired``)."""

    action: str
    kind: str
    name: str
    fields: list[FieldChange] = dataclasses.field(default_factory=list)
    desired: State | None = None
    note: str = ""

    def as_json(self) -> dict[str, t.Any]:
        answer = {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "fields": [f.as_json() for f in self.fields],
        }
        if self.note:
            answer["note"] = self.note
        return answer

    def render(self) -> list[str]:
        head = f"{SYMBOL[self.action]} {self.action} {self.kind} {self.name}"
        if self.note:
            head += f" ({self.note})"
        return [head] + [f"    {f.render()}" for f in self.fields]


@dataclasses.dataclass
class Plan:
    tenant_name: str
    tenant: Tenant | None
    prune: bool
    changes: list[Change] = dataclasses.field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def of(self, kind: str, action: str | None = None) -> list[Change]:
        return [c for c in self.changes if c.kind == kind and action in (None, c.action)]

    def counts(self) -> dict[str, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in SYMBOL}

    def as_json(self) -> dict[str, t.Any]:
        """The plan for machines (``foyer apply --format json``); secrets never appear."""
        return {
            "tenant": self.tenant_name,
            "prune": self.prune,
            "changes": [c.as_json() for c in self.changes],
            "counts": self.counts(),
        }

    def render(self) -> str:
        if self.empty:
            return f"tenant {self.tenant_name}: no changes"
        lines = [f"tenant {self.tenant_name}:"]
        for change in self.changes:
            lines += [f"  {line}" for line in change.render()]
        counts = self.counts()
        lines.append(
            f"{counts['create']} to create, {counts['update']} to update, "
            f"{counts['delete']} to delete"
        )
        return "\n".join(lines)


def _show(value: t.Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff(old: State | None, new: State, record: Record) -> list[FieldChange]:
    """Field changes from ``old``; for a creation (``old`` None) the values that differ from
    the format's defaults, without the identifying first field (the change names it)."""
    changes = []
    for index, (key, value) in enumerate(new.items()):
        if old is None:
            field = record.fields.get(key)
            default = field.default if field is not None else None
            if index > 0 and value != default and value not in (None, [], {}, ""):
                changes.append(FieldChange(key, _ABSENT, value))
        elif old.get(key) != value:
            changes.append(FieldChange(key, old.get(key), value))
    return changes


def build_plan(spec: State, prune: bool = False) -> Plan:
    """Compare the checked file (``spec``) with the database."""
    prune = prune or bool(spec["tenant"]["prune"])
    tenant = find_tenant(spec["tenant"]["name"])
    plan = Plan(spec["tenant"]["name"], tenant, prune)
    desired = snapshot.desired_tenant(spec)
    old = snapshot.tenant_state(tenant) if tenant is not None else None
    _create_or_update(plan, "tenant", desired["name"], tenant, diff(old, desired, TENANT), desired)
    _connections(plan, spec, tenant)
    _organizations(plan, spec, tenant)
    _clients(plan, spec, tenant)
    _identifier_map(plan, spec, tenant)
    _users(plan, spec, tenant)
    return plan


def _create_or_update(
    plan: Plan,
    kind: str,
    name: str,
    current: object | None,
    fields: list[FieldChange],
    item: t.Any,
) -> None:
    """A create when nothing is stored yet, an update when a field differs, else nothing."""
    if current is None:
        plan.changes.append(Change("create", kind, name, fields, item))
    elif fields:
        plan.changes.append(Change("update", kind, name, fields, item))


def _deletions(plan: Plan, kind: str, stored: t.Iterable[str], listed: set[str]) -> None:
    if not plan.prune:
        return
    for name in stored:
        if name not in listed:
            plan.changes.append(Change("delete", kind, name))


def _connections(plan: Plan, spec: State, tenant: Tenant | None) -> None:
    stored = snapshot.connections(tenant) if tenant else {}
    for item in spec["connections"]:
        desired = snapshot.desired_connection(item)
        current = stored.get(item["name"])
        fields = diff(snapshot.connection_state(current) if current else None, desired, CONNECTION)
        if "secrets" in item:
            fields += _secret_changes(current.get_secrets() if current else {}, item["secrets"])
        _create_or_update(plan, "connection", item["name"], current, fields, item)
    listed = {c["name"] for c in spec["connections"]}
    before = len(plan.changes)
    _deletions(plan, "connection", stored, listed)
    for change in plan.changes[before:]:
        users = _user_count(stored[change.name])
        if users:
            change.note = f"and its {users} user{'s' if users != 1 else ''}"


def _user_count(connection: Connection) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.connection_id == connection.id)
        )
        or 0
    )


def _secret_changes(old: dict[str, t.Any], new: dict[str, t.Any]) -> list[FieldChange]:
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            changes.append(FieldChange(f"secrets.{key}", None, "(removed)", secret=True))
        elif key not in old:
            changes.append(FieldChange(f"secrets.{key}", None, "(set)", secret=True))
        elif not constant_time_equal(str(old[key]), str(new[key])):
            changes.append(FieldChange(f"secrets.{key}", None, "(changed)", secret=True))
    return changes


def _organizations(plan: Plan, spec: State, tenant: Tenant | None) -> None:
    stored = snapshot.organizations(tenant) if tenant else {}
    for item in spec["organizations"]:
        desired = snapshot.desired_organization(item)
        current = stored.get(item["name"])
        assert tenant is not None or current is None
        old = snapshot.organization_state(current, tenant) if current and tenant else None
        fields = diff(old, desired, ORGANIZATION)
        _create_or_update(plan, "organization", item["name"], current, fields, item)
    _deletions(plan, "organization", stored, {o["name"] for o in spec["organizations"]})


def _clients(plan: Plan, spec: State, tenant: Tenant | None) -> None:
    stored = snapshot.clients(tenant) if tenant else {}
    for item in spec["clients"]:
        desired = snapshot.desired_client(item)
        current = stored.get(item["client_id"])
        fields = diff(snapshot.client_state(current) if current else None, desired, CLIENT)
        public = item["auth_method"] == "none"
        if "secret" in item:
            new_hash = hash_client_secret(item["secret"])
            if current is None:
                fields.append(FieldChange("secret", None, "(set)", secret=True))
            elif not current.secret_hash or not constant_time_equal(current.secret_hash, new_hash):
                fields.append(FieldChange("secret", None, "(changed)", secret=True))
        elif not public and (current is None or not current.secret_hash):
            fields.append(FieldChange("secret", None, "(generated, printed once)", secret=True))
        elif public and current is not None and current.secret_hash:
            fields.append(FieldChange("secret", None, "(removed)", secret=True))
        _create_or_update(plan, "client", item["client_id"], current, fields, item)
    _deletions(plan, "client", stored, {c["client_id"] for c in spec["clients"]})


def _identifier_map(plan: Plan, spec: State, tenant: Tenant | None) -> None:
    stored = snapshot.identifier_routes(tenant) if tenant else {}
    for item in spec["identifier_map"]:
        desired = snapshot.desired_route(item)
        current = stored.get(item["identifier"])
        old = snapshot.route_state(current) if current is not None else None
        fields = diff(old, desired, IDENTIFIER_ROUTE)
        _create_or_update(plan, ROUTE, item["identifier"], current, fields, item)
    _deletions(plan, ROUTE, stored, {item["identifier"] for item in spec["identifier_map"]})


def _users(plan: Plan, spec: State, tenant: Tenant | None) -> None:
    stored = snapshot.connections(tenant) if tenant else {}
    for item in spec["users"]:
        desired = snapshot.desired_user(item)
        connection = stored.get(item["connection"])
        user = (
            snapshot.find_user(connection, item["email"], item["username"]) if connection else None
        )
        old = snapshot.user_state(user, connection) if user and connection else None
        fields = diff(old, desired, USER)
        password = _password_change(user, item)
        if password:
            fields.append(FieldChange("password", None, password, secret=True))
        name = f"{item['email'] or item['username']} ({item['connection']})"
        _create_or_update(plan, "user", name, user, fields, item)


def _password_change(user: User | None, item: State) -> str | None:
    if "password_hash" in item:
        if user is None:
            return "(set)"
        return None if user.password_hash == item["password_hash"] else "(changed)"
    if "password" in item:
        if user is None:
            return "(set)"
        ok, _ = verify_password(user.password_hash, item["password"])
        return None if ok else "(changed)"
    return None
