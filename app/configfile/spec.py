"""The format of a tenant configuration file, declared once: checks, defaults and docs.

``docs/config.md`` embeds :func:`reference` (a test keeps them equal), so every field's
documentation lives next to its declaration.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from urllib.parse import urlsplit

from app.accounts.password_strength import DEFAULT_MIN_SCORE
from app.accounts.protection import Figures
from app.accounts.services import clean_email
from app.branding.data import FIELDS as BRANDING_FIELDS
from app.branding.data import MAX_NAME
from app.branding.data import MAX_SENDER_NAME
from app.branding.data import check_color
from app.branding.themes import COLOR
from app.branding.themes import COLOR_KEYS
from app.clients.services import AUTH_METHODS
from app.clients.services import GRANT_TYPES
from app.clients.services import MIN_SECRET_LENGTH
from app.clients.services import ClientInvalid
from app.clients.services import validate_backchannel_logout_uri
from app.clients.services import validate_redirect_uri
from app.configfile.problems import ConfigInvalid
from app.configfile.schema import INVALID
from app.configfile.schema import Bool
from app.configfile.schema import Enum
from app.configfile.schema import Field
from app.configfile.schema import Int
from app.configfile.schema import Json
from app.configfile.schema import List
from app.configfile.schema import MapOf
from app.configfile.schema import Nullable
from app.configfile.schema import Reader
from app.configfile.schema import Record
from app.configfile.schema import Str
from app.configfile.schema import Type
from app.configfile.source import Source
from app.connections.services import SECRET_NAME
from app.connections.services import STRATEGY_NAME
from app.hrd.chain import DEFAULT_ORDER
from app.hrd.identifier_map import normalize_entry
from app.i18n import SUPPORTED_LOCALES
from app.orgs.services import normalize_email_domain
from app.tenancy.services import SLUG
from app.tenancy.services import canonical_domain

VERSION = 1
SLUG_HINT = "lower-case letters, digits and dashes, at most 63"
CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PLUGIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}")
ROLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}")
SCOPE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*")
ARGON2ID = re.compile(r"\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")
EMAIL = re.compile(r"[^@\s<>\"'(),;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ID_TOKEN_ALGS = ("RS256", "ES256")
ORGANIZATION_USAGES = ("deny", "allow", "require")
ORGANIZATION_PROMPTS = ("picker", "identifier_first")
PICKER_MODES = ("name", "list")


def https_url(value: str) -> str:
    """Links and images shown on hosted pages: plain ``https://`` URLs only."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{value!r} is not an https:// URL")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError(f"{value!r} contains spaces or control characters")
    return value


def email_address(value: str) -> str:
    """An address as Foyer stores it (:func:`app.accounts.services.clean_email`)."""
    try:
        address = clean_email(value)
    except ValueError:
        address = ""
    if not EMAIL.fullmatch(address):
        raise ValueError(f"{value!r} is not an email address")
    return address


def redirect_uri(field: str) -> t.Callable[[str], str]:
    def check(value: str) -> str:
        try:
            return validate_redirect_uri(value, field)
        except ClientInvalid as exc:
            raise ValueError(str(exc).removeprefix(f"{field}: ")) from None

    return check


def backchannel_uri(value: str) -> str:
    try:
        return validate_backchannel_logout_uri(value)
    except ClientInvalid as exc:
        raise ValueError(str(exc).removeprefix("backchannel_logout_uri: ")) from None


def client_secret(value: str) -> str:
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"use at least {MIN_SECRET_LENGTH} characters (a random value)")
    return value


def color(value: str) -> str:
    if not COLOR.fullmatch(value):
        raise ValueError(f"{value!r} is not a #rgb or #rrggbb color")
    return value.lower()


def slug(describe: str = "slug") -> Str:
    return Str(pattern=SLUG, pattern_hint=SLUG_HINT, max_length=63, describe=describe)


def plugins_field(doc: str) -> Field:
    return Field(
        MapOf(
            Str(pattern=PLUGIN_NAME, pattern_hint="a plugin name", describe="plugin name"),
            Json("settings"),
        ),
        doc,
        default={},
    )


def _branding_fields() -> dict[str, Field]:
    """The branding fields, checked by :mod:`app.branding.data` (the same checks pages and
    admin tools use), documented from there."""
    fields: dict[str, Field] = {}
    lengths = {
        "display_name": MAX_NAME,
        "email_sender_name": MAX_SENDER_NAME,
        "support_email": 320,
        "email_reply_to": 320,
    }
    for name, (check, doc) in BRANDING_FIELDS.items():
        if name == "colors":
            fields[name] = Field(
                MapOf(
                    Str(
                        pattern=re.compile("|".join(sorted(COLOR_KEYS))),
                        pattern_hint="one of " + ", ".join(sorted(COLOR_KEYS)),
                        describe="color name",
                    ),
                    Str(convert=check_color, describe="#rrggbb"),
                ),
                doc + " Keys: " + ", ".join(f"`{k}`" for k in sorted(COLOR_KEYS)) + ".",
                default={},
            )
            continue
        describe = (
            "https URL"
            if name.endswith("_url")
            else "email address"
            if "email" in name and name != "email_sender_name"
            else "text"
        )
        fields[name] = Field(
            Nullable(Str(convert=check, max_length=lengths.get(name, 2048), describe=describe)),
            doc,
        )
    return fields


BRANDING = Record(_branding_fields(), describe="mapping (branding)")


def identifier_or_pattern(value: str) -> str:
    return normalize_entry(value)[0]


HRD = Record(
    {
        "order": Field(
            Nullable(
                List(
                    Str(
                        pattern=re.compile(r"[a-z0-9_]{1,63}"),
                        pattern_hint="a discovery method name",
                        describe="method",
                    )
                )
            ),
            "Discovery methods to try, in order (empty: Foyer's order, "
            + ", ".join(f"`{name}`" for name in DEFAULT_ORDER)
            + "). Leave one out to turn it off; plugins add methods of their own.",
        ),
        "organization_picker": Field(
            Enum(PICKER_MODES),
            "How users choose their organization when nothing else tells it: `name` (they "
            "type its name; the list of customers stays private) or `list` (a searchable "
            "list).",
            default="name",
        ),
    },
    describe="mapping (home realm discovery)",
)

PASSWORDS = Record(
    {
        "min_score": Field(
            Int(0, 4),
            "New passwords (sign-up, reset, change, invitation) must reach this zxcvbn "
            "score: 0 accepts any, 1 to 4 need about a thousand, a million, a hundred "
            "million and ten billion guesses. A password that is the user's email address "
            "or name is refused whatever the score.",
            default=DEFAULT_MIN_SCORE,
        ),
        "check_at_sign_in": Field(
            Bool(),
            "A right password that these rules (or a `check_password` plugin) refuse now "
            "must be changed at sign-in, after two-step verification, before the sign-in "
            "goes on; a `password_breach_detected` event is recorded.",
            default=True,
        ),
    },
    describe="mapping (password rules)",
)


def cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an address range like 203.0.113.0/24") from None


_FIGURES = Figures()
DAY = 24 * 3600

ATTACK_PROTECTION = Record(
    {
        "max_failed_logins": Field(
            Int(0, 1000),
            "Failed sign-ins in a row for one account from one address before sign-ins from "
            "there are blocked (the right password then fails too; the user is emailed an "
            "unblock link). 0 turns brute-force protection off.",
            default=_FIGURES.max_failed_logins,
        ),
        "block_seconds": Field(
            Int(60, 30 * DAY),
            "How long such a block lasts after the pair's last attempt, in seconds (unless "
            "the link, a password reset or an admin lifts it first).",
            default=_FIGURES.block_seconds,
        ),
        "notify_user": Field(
            Bool(), "Email the user an unblock link when a block starts.", default=True
        ),
        "delay_after": Field(
            Int(0, 100_000),
            "Failed sign-ins for one account from any address after which each attempt "
            "waits (against password spraying). 0 turns the delay off.",
            default=_FIGURES.delay_after,
        ),
        "first_delay_seconds": Field(
            Int(1, 3600),
            "The first wait, in seconds; it doubles with each further failure.",
            default=_FIGURES.first_delay_seconds,
        ),
        "max_delay_seconds": Field(
            Int(1, DAY), "The longest wait, in seconds.", default=_FIGURES.max_delay_seconds
        ),
        "delay_reset_seconds": Field(
            Int(60, 7 * DAY),
            "The account's count of failures ends this many seconds after its last failure.",
            default=_FIGURES.delay_reset_seconds,
        ),
        "ip_failed_logins_per_day": Field(
            Int(0, 10_000_000),
            "Failed sign-ins one address may make in a day; past that it is refused and gets "
            "one more each day's share (864 s for 100). 0 turns it off.",
            default=_FIGURES.ip_failed_logins_per_day,
        ),
        "ip_signups_per_day": Field(
            Int(0, 10_000_000),
            "Sign-ups one address may make in a day, refilled the same way. 0 turns it off.",
            default=_FIGURES.ip_signups_per_day,
        ),
        "organization_guesses_per_hour": Field(
            Int(0, 100_000),
            "Unknown organization names (in `/o/<name>/` paths, the `organization` "
            "parameter, the picker) one address may try in an hour while the tenant keeps its "
            "list private; past it, every name is refused alike. 0 turns it off.",
            default=_FIGURES.organization_guesses_per_hour,
        ),
        "allow_list": Field(
            List(Str(convert=cidr, max_length=64, describe="address range")),
            "Address ranges (`203.0.113.0/24`, `2001:db8::/48`) never throttled for their "
            "failed sign-ins, sign-ups and unknown organization names.",
            default=[],
        ),
    },
    describe="mapping (attack protection)",
)

EVENTS = Record(
    {
        "retention_days": Field(
            Nullable(Int(1, 3650)),
            "Days the tenant's events are kept: `foyer events prune` deletes older ones "
            "(empty: `FOYER_EVENT_RETENTION_DAYS`, 90 by default).",
        ),
    },
    describe="mapping (events)",
)

TENANT = Record(
    {
        "name": Field(
            slug(), "The tenant's slug: `foyer export NAME` and the CLI use it.", required=True
        ),
        "display_name": Field(Str(), "Shown on the hosted pages.", required=True),
        "domains": Field(
            List(Str(convert=canonical_domain, describe="[scheme://]host[:port]"), min_items=1),
            "Host names serving the tenant, `[scheme://]host[:port]` (https by default). The "
            "first is primary: the issuer of tokens and links in emails use it.",
            required=True,
        ),
        "default_locale": Field(
            Enum(SUPPORTED_LOCALES),
            "Language of the pages when nothing else chooses one.",
            default="en",
        ),
        "support_email": Field(
            Nullable(Str(convert=email_address, max_length=320, describe="email address")),
            "Support contact on error pages (organizations may override).",
        ),
        "support_url": Field(
            Nullable(Str(convert=https_url, max_length=2048, describe="https URL")),
            "Support page linked from error pages.",
        ),
        "theme": Field(
            Nullable(slug("theme name")),
            "Theme of the tenant's pages (organizations may choose their own).",
        ),
        "branding": Field(BRANDING, "Branding of the tenant's pages (see below).", default={}),
        "hrd": Field(
            HRD,
            "Home realm discovery: method order and organization picker (see below).",
            default={},
        ),
        "passwords": Field(
            PASSWORDS, "Password rules of the tenant's users (see below).", default={}
        ),
        "attack_protection": Field(
            ATTACK_PROTECTION,
            "Figures of brute-force protection, password-spraying delays and throttling of "
            "suspicious addresses (see below).",
            default={},
        ),
        "events": Field(EVENTS, "The tenant's event log (see below).", default={}),
        "plugins": plugins_field(
            "Scoped plugins enabled for the whole tenant, each with its settings."
        ),
        "require_two_step": Field(
            Bool(),
            "Every sign-in requires two-step verification; a user without an authenticator "
            "sets one up at their next sign-in (organizations and applications may require "
            "it on their own).",
            default=False,
        ),
        "prune": Field(
            Bool(),
            "Delete connections, organizations and applications that this "
            "file does not list (`--prune` does the same once).",
            default=False,
        ),
    },
    describe="mapping (tenant)",
)

CONNECTION = Record(
    {
        "name": Field(
            slug(), "Unique in the tenant; organizations and users refer to it.", required=True
        ),
        "strategy": Field(
            Str(
                pattern=STRATEGY_NAME,
                pattern_hint="a connection strategy name",
                describe="strategy name",
            ),
            "Connection strategy (`database` is built in; plugins add more). "
            "It cannot change once the connection exists.",
            default="database",
        ),
        "display_name": Field(Nullable(Str()), "Shown on the login page (default: the name)."),
        "signup": Field(Bool(), "Users may create their own account.", default=False),
        "enabled": Field(
            Bool(),
            "`false` switches the connection off: kept with its users, but no login page or "
            "discovery offers it and its IdP's answers are refused.",
            default=True,
        ),
        "options": Field(Json("mapping (free-form)"), "Strategy options (not secret).", default={}),
        "secrets": Field(
            MapOf(
                Str(pattern=SECRET_NAME, pattern_hint="letters, digits and _", describe="name"),
                Str(max_length=8192, describe="string"),
            ),
            "Strategy secrets, stored encrypted; write `${VARIABLE}` references. When "
            "absent, the stored secrets are kept.",
            secret=True,
            managed_when_absent=False,
        ),
    },
    describe="mapping (connection)",
)

EMAIL_DOMAIN = Record(
    {
        "domain": Field(
            Str(convert=normalize_email_domain, max_length=253, describe="domain"),
            "Email domain (Unicode or punycode); unique in the tenant.",
            required=True,
        ),
        "include_subdomains": Field(Bool(), "Also match `*.domain`.", default=False),
        "connection": Field(
            Nullable(slug("connection name")),
            "Connection to route these users to; it must be enabled for "
            "the organization (default: its first connection).",
        ),
    },
    describe="mapping (email domain)",
)

ORGANIZATION = Record(
    {
        "name": Field(slug(), "Slug used in URLs and the `organization` parameter.", required=True),
        "display_name": Field(Str(), "Shown on the organization's pages.", required=True),
        "theme": Field(Nullable(slug("theme name")), "Theme of the organization's pages."),
        "default_locale": Field(
            Nullable(Enum(SUPPORTED_LOCALES)),
            "Language when the user's is unknown (default: the tenant's).",
        ),
        "branding": Field(BRANDING, "Branding data (see below).", default={}),
        "metadata": Field(
            Json("mapping (free-form)"), "Free-form data for plugins and applications.", default={}
        ),
        "connections": Field(
            List(slug("connection name")),
            "Connections enabled for the organization, in login page order.",
            default=[],
        ),
        "email_domains": Field(
            List(EMAIL_DOMAIN), "Email domains whose users belong to the organization.", default=[]
        ),
        "domains": Field(
            List(Str(convert=canonical_domain, describe="[scheme://]host[:port]")),
            "Vanity host names that preselect the organization.",
            default=[],
        ),
        "plugins": plugins_field("Scoped plugins enabled for this organization, with settings."),
        "require_two_step": Field(
            Bool(), "Signing in to this organization requires two-step verification.", default=False
        ),
    },
    describe="mapping (organization)",
)

CLIENT = Record(
    {
        "client_id": Field(
            Str(
                pattern=CLIENT_ID,
                pattern_hint="letters, digits, . _ -",
                max_length=64,
                describe="identifier",
            ),
            "Public identifier, unique across the deployment.",
            required=True,
        ),
        "name": Field(Str(), "Application name shown to users.", required=True),
        "auth_method": Field(
            Enum(AUTH_METHODS),
            "How the client authenticates at the token endpoint (`none`: a "
            "public client that must use PKCE).",
            default="client_secret_basic",
        ),
        "require_pkce": Field(
            Bool(),
            "Every authorization request must carry a PKCE challenge (S256). `false` only "
            "for a legacy confidential client that cannot send one; a public client "
            "always uses PKCE.",
            default=True,
        ),
        "secret": Field(
            Str(convert=client_secret, max_length=512, describe="string"),
            f"Client secret, stored hashed; at least {MIN_SECRET_LENGTH} characters (a random "
            "value: `python -c 'import secrets; print(secrets.token_urlsafe(32))'`); write a "
            "`${VARIABLE}` reference. When absent, the stored secret is kept (a new client "
            "gets a generated one, printed once).",
            secret=True,
            managed_when_absent=False,
        ),
        "redirect_uris": Field(
            List(Str(convert=redirect_uri("redirect_uris"), max_length=2048, describe="URI")),
            "Exact redirect URIs: https; http only for loopback (`127.0.0.1`, `[::1]`, "
            "`localhost`); a native app's private-use scheme in reverse-domain form "
            "(`com.example.app:/callback`). Never a user name or password, a fragment, "
            "spaces or control characters.",
            default=[],
        ),
        "post_logout_redirect_uris": Field(
            List(
                Str(
                    convert=redirect_uri("post_logout_redirect_uris"),
                    max_length=2048,
                    describe="URI",
                )
            ),
            "Exact URIs allowed after sign-out (the rules of `redirect_uris`).",
            default=[],
        ),
        "grant_types": Field(
            List(Enum(GRANT_TYPES), min_items=1),
            "Grants the client may use.",
            default=["authorization_code", "refresh_token"],
        ),
        "scope": Field(
            Str(
                pattern=SCOPE,
                pattern_hint="space-separated scope names",
                max_length=1024,
                describe="scopes",
            ),
            "Scopes the client may ask for.",
            default="openid profile email offline_access",
        ),
        "audience": Field(
            Nullable(Str(max_length=512)), "Default `aud` of access tokens (default: the issuer)."
        ),
        "id_token_alg": Field(
            Enum(ID_TOKEN_ALGS), "Signing algorithm of ID tokens.", default="RS256"
        ),
        "organization_usage": Field(
            Enum(ORGANIZATION_USAGES),
            "`deny`: never sign in to an organization; `require`: always; `allow`: either.",
            default="allow",
        ),
        "organization_prompt": Field(
            Enum(ORGANIZATION_PROMPTS),
            "With `organization_usage: require`, when the application names no organization: "
            "`picker` asks for it first; `identifier_first` asks for the email address and "
            "finds the organization from its domain or the identifier map (the picker only "
            "when they do not tell).",
            default="picker",
        ),
        "logout_revokes_refresh_tokens": Field(
            Nullable(Bool()),
            "When the user's session ends (signing out, here or from an application; the "
            "account page; a password reset), the refresh tokens the application got in it "
            "stop working. Empty: on for first-party applications, off for third-party ones "
            "(those that ask consent), whose `offline_access` outlives the sign-in.",
        ),
        "backchannel_logout_uri": Field(
            Nullable(Str(convert=backchannel_uri, max_length=2048, describe="URL")),
            "OpenID Connect Back-Channel Logout: when a session the application signed in "
            "through ends, Foyer posts a logout token here (https; http only for loopback).",
        ),
        "backchannel_logout_session_required": Field(
            Bool(),
            "The application needs `sid` in logout tokens (Foyer always sends it).",
            default=False,
        ),
        "require_two_step": Field(
            Bool(),
            "Signing in to this application requires two-step verification (an application "
            "may also ask for it per request: `acr_values=2`).",
            default=False,
        ),
        "require_consent": Field(
            Bool(),
            "A third-party application: users are asked to allow the scopes it asks for "
            "(remembered per user and application).",
            default=False,
        ),
        "theme": Field(
            Nullable(slug("theme name")),
            "Theme of the sign-in pages for this application (an organization's own theme "
            "wins; default: the tenant's).",
        ),
        "metadata": Field(
            Json("mapping (free-form)"),
            "Free-form data for plugins (`client.metadata`).",
            default={},
        ),
    },
    describe="mapping (client)",
)

IDENTIFIER_ROUTE = Record(
    {
        "identifier": Field(
            Str(convert=identifier_or_pattern, max_length=320, describe="identifier or pattern"),
            "An identifier (email address or username, any case) or a pattern: `*` matches "
            "any run of characters, `?` one (`*@contractors.example`). Exact entries win, "
            "then the pattern with the most literal characters.",
            required=True,
        ),
        "organization": Field(
            Nullable(slug("organization name")), "The organization these identifiers sign in to."
        ),
        "connection": Field(
            Nullable(slug("connection name")),
            "The connection that serves them (enabled for the organization, "
            "when both are given). Give an organization, a connection or both.",
        ),
    },
    describe="mapping (identifier map entry)",
)

MEMBERSHIP = Record(
    {
        "name": Field(slug("organization name"), "The organization.", required=True),
        "roles": Field(
            List(Str(pattern=ROLE, pattern_hint="a role name", max_length=64, describe="role")),
            "Roles in the organization.",
            default=[],
        ),
    },
    describe="mapping (membership)",
)

USER = Record(
    {
        "connection": Field(
            slug("connection name"), "The connection that holds the user.", required=True
        ),
        "email": Field(
            Nullable(Str(convert=email_address, max_length=320, describe="email address")),
            "Email address; with `username`, identifies the user.",
        ),
        "username": Field(Nullable(Str(max_length=128)), "Username, when there is no email."),
        "name": Field(Nullable(Str()), "Full name."),
        "given_name": Field(Nullable(Str()), "Given name."),
        "family_name": Field(Nullable(Str()), "Family name."),
        "locale": Field(Nullable(Enum(SUPPORTED_LOCALES)), "Preferred language."),
        "email_verified": Field(
            Bool(), "The email address is known to be the user's.", default=False
        ),
        "blocked": Field(Bool(), "The user may not sign in.", default=False),
        "password": Field(
            Str(max_length=128, describe="`${VARIABLE}`"),
            "Password, only as a `${VARIABLE}` reference; hashed on apply. "
            "When absent (and no `password_hash`), the password is kept.",
            secret=True,
            reference_only=True,
            managed_when_absent=False,
        ),
        "password_hash": Field(
            Str(
                pattern=ARGON2ID,
                pattern_hint="an argon2id hash",
                max_length=512,
                describe="argon2id hash",
            ),
            "Password as an argon2id hash (`$argon2id$...`).",
            secret=True,
            managed_when_absent=False,
        ),
        "organizations": Field(
            List(MEMBERSHIP),
            "Memberships (shared-pool users), mirrored in "
            "`app_metadata.organizations`; exactly these are kept.",
            default=[],
        ),
    },
    describe="mapping (user)",
)

FILE = Record(
    {
        "version": Field(Int(VERSION, VERSION), "Format version: `1`.", required=True),
        "tenant": Field(TENANT, "The tenant (created when missing).", required=True),
        "connections": Field(List(CONNECTION), "The tenant's connections.", default=[]),
        "organizations": Field(List(ORGANIZATION), "The tenant's organizations.", default=[]),
        "clients": Field(List(CLIENT), "Applications (OIDC clients).", default=[]),
        "identifier_map": Field(
            List(IDENTIFIER_ROUTE),
            "Identifiers and patterns routed to a realm by home realm discovery.",
            default=[],
        ),
        "users": Field(List(USER), "Initial users (never deleted, never exported).", default=[]),
    },
    describe="mapping (file)",
)
"""The whole file."""


def read_spec(source: Source) -> tuple[dict[str, t.Any], Reader]:
    """Check the file against :data:`FILE`; returns the values with defaults filled in.

    :raises ConfigInvalid: with every problem found.
    """
    reader = Reader(source)
    reader.problems.extend(source.problems)
    spec = FILE.read(reader, source.root, "")
    if reader.problems or spec is INVALID:
        # a missing variable leaves its field empty: its own problem says it all
        unset = {p.path for p in source.problems}
        reader.problems = [
            p for p in reader.problems if p in source.problems or p.path not in unset
        ]
        # read again past the mistakes, so the checks across fields can add theirs
        lenient = Reader(source, lenient=True)
        partial = FILE.read(lenient, source.root, "")
        lenient.problems = list(reader.problems)
        raise ConfigInvalid(reader.problems, partial=(partial, lenient))
    return t.cast(dict[str, t.Any], spec), reader


SECTIONS: tuple[tuple[str, Record], ...] = (
    ("file", FILE),
    ("tenant", TENANT),
    ("tenant.branding, organizations[].branding", BRANDING),
    ("tenant.hrd", HRD),
    ("tenant.passwords", PASSWORDS),
    ("tenant.attack_protection", ATTACK_PROTECTION),
    ("tenant.events", EVENTS),
    ("connections[]", CONNECTION),
    ("organizations[]", ORGANIZATION),
    ("organizations[].email_domains[]", EMAIL_DOMAIN),
    ("clients[]", CLIENT),
    ("identifier_map[]", IDENTIFIER_ROUTE),
    ("users[]", USER),
    ("users[].organizations[]", MEMBERSHIP),
)


def reference() -> str:
    """Markdown tables of every field, from the declarations above (``docs/config.md``)."""
    out: list[str] = []
    for title, record in SECTIONS:
        out += [
            f"#### `{title}`",
            "",
            "| field | value | default | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for name, field in record.fields.items():
            out.append(f"| `{name}` | {_describe(field.type)} | {_default(field)} | {field.doc} |")
        out.append("")
    return "\n".join(out)


def _describe(kind: Type) -> str:
    return kind.describe.replace("|", "\\|")


def _default(field: Field) -> str:
    if field.required:
        return "required"
    if not field.managed_when_absent:
        return "kept"
    if field.default in (None, {}, []):
        return "" if field.default is None else f"`{field.default}`"
    if isinstance(field.default, bool):
        return f"`{str(field.default).lower()}`"
    if isinstance(field.default, list):
        return "`[" + ", ".join(field.default) + "]`"
    return f"`{field.default}`"
