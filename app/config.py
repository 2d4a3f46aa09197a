"""Settings: read from ``FOYER_*`` environment variables and an optional TOML file.

Every field is documented where it is declared; ``docs/operating.md`` lists them. Secrets
that are not given are generated once into the instance folder so a first start is safe.
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import inspect
import math
import os
import secrets
import tomllib
import typing as t
from pathlib import Path

from cryptography.fernet import Fernet

PACKAGE = Path(__file__).resolve().parent


def shipped_path(name: str) -> Path:
    """``migrations``, ``themes`` or ``translations``: top-level folders of the repository,
    which an installed wheel carries inside the package (see setup.py)."""
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


@dataclasses.dataclass
class Settings:
    """All of Foyer's settings. Env var ``FOYER_<NAME>`` overrides the file's ``name``."""

    instance_path: str = "instance"
    """Folder for the SQLite database and generated secrets (created when missing)."""

    database_url: str = ""
    """SQLAlchemy URL. Empty means SQLite in the instance folder (``foyer.db``)."""

    redis_url: str = ""
    """Redis URL for rate limits and attack-protection counters shared by every process.
    Empty: they are kept in the database (never in one process's memory)."""

    secret_key: str = ""
    """Signs session cookies and CSRF tokens. Generated into ``instance/secret_key``."""

    encryption_keys: str = ""
    """Comma-separated Fernet keys encrypting secrets at rest; the first encrypts, all decrypt
    (prepend a new key to rotate). Generated into ``instance/encryption_key``."""

    plugins_dir: str = "plugins"
    """Folder of drop-in plugin modules and packages loaded at start."""

    plugin_timeout: float = 5.0
    """Seconds one plugin may spend in one hook call (a login rule, a claims rule, a legacy
    store lookup) before it is interrupted and treated as failed."""

    smtp_url: str = ""
    """SMTP server for emails (``smtp://``, ``smtp+starttls://`` or ``smtps://``, with
    ``user:password@`` to log in). Empty: only a ``deliver_email`` plugin sends emails."""

    mail_from: str = "Foyer <no-reply@localhost>"
    """From address of emails Foyer sends."""

    mail_max_attempts: int = 8
    """Delivery attempts of one email before it is given up (``dead``, an ``email_failed``
    event; ``foyer mail retry`` queues it again)."""

    mail_retry_seconds: float = 30.0
    """Wait before the second attempt at an email; it doubles with each further attempt."""

    mail_keep_days: int = 7
    """Sent, held and given-up emails are deleted from the outbox after this many days."""

    dev_mailbox: bool = False
    """Show every email Foyer sent at ``/_mailbox/`` on each tenant host (links work), and
    keep emails there when no delivery is configured. For development and the demo (Flask's
    debug mode turns it on too); never in production: anyone could read them."""

    worker_in_process: bool = True
    """Each process serving Foyer (``foyer run``) sends queued emails and logout tokens from
    a thread of its own. Turn off when ``foyer worker`` processes do it instead."""

    worker_poll_seconds: float = 5.0
    """How often a worker looks for emails and logout tokens that fell due (left by a
    stopped process or queued on another host); new ones are sent at once."""

    event_retention_days: int = 90
    """Events older than this are deleted by ``foyer events prune`` (a tenant's
    ``tenant.events.retention_days`` overrides it)."""

    event_stream_file: str = ""
    """Append every event as one JSON line to this file (a log stream; see
    ``docs/events.md``)."""

    event_stream_webhook: str = ""
    """POST events in batches, signed with ``FOYER_EVENT_STREAM_SECRET``, to this https URL."""

    event_stream_secret: str = ""
    """HMAC-SHA256 key signing the webhook's batches (``X-Foyer-Signature``)."""

    event_stream_syslog: str = ""
    """Send every event as an RFC 5424 message to ``udp://host:port`` or
    ``tcp://host:port`` (octet-counted framing)."""

    event_stream_queue: int = 10000
    """Events each stream holds while its destination is slow; more are dropped (counted)."""

    event_stream_attempts: int = 5
    """Attempts at one webhook batch (1 s, doubling, between them) before it is written to
    the dead-letter file ``instance/event-dead-letter.jsonl``."""

    themes_dir: str = "themes"
    """Folder of drop-in theme folders."""

    asset_base_url: str = ""
    """When set, static assets are loaded from this base URL (a CDN holding the layout
    written by ``foyer themes build``)."""

    theme_development: bool = False
    """Theme designers' mode: theme files are re-read when they change (edits show on
    reload) and every page can be previewed with fake data under ``/_themes/``. Flask's
    debug mode does the first too. Never on in production."""

    demo: bool = False
    """Set by ``foyer demo``: the landing page shows the demo application, the unknown-host
    page names the configured hosts. Never on in production."""

    demo_app_url: str = ""
    """The demo application's address, linked from the landing page (``foyer demo``)."""

    trusted_proxies: int = 0
    """How many reverse proxies in front of Foyer set X-Forwarded-For/Proto/Host. 0 trusts
    none, so a client cannot spoof its address or scheme."""

    outbound_allow: str = ""
    """Comma-separated networks (CIDR) or host names Foyer may fetch IdP metadata, OpenID
    discovery, JWKS and token answers from although they are private, loopback or
    link-local, and over plain http. Empty: only https to public addresses."""

    secure_cookies: bool = True
    """Send cookies with the Secure flag, the session cookie as ``__Host-foyer_session``
    (Secure, ``Path=/``, no ``Domain``). Turned off by ``foyer demo`` on plain-http localhost."""

    cache_seconds: int = 5
    """How long a worker trusts its copy of a tenant's domains, settings and signing keys and
    of client registrations (read by nearly every request). Changes made by the same process
    apply at once; other workers and hosts see them within this time. 0 reads them on every
    request."""

    sqlite_cache_mib: int = 64
    """Database pages each SQLite connection keeps in memory, in MiB (SQLite's own default
    is 2). It fills only with pages read, so a small database costs what it holds; with a
    million users the upper levels of the indexes stay in memory instead of being read from
    the file again by every lookup. A worker holds two or three connections."""

    session_lifetime: int = 8 * 3600
    """Absolute lifetime of an SSO session, in seconds."""

    session_idle_timeout: int = 3600
    """An SSO session unused for this many seconds ends."""

    code_lifetime: int = 60
    """Authorization code lifetime, in seconds."""

    access_token_lifetime: int = 3600
    """Default access token lifetime, in seconds (clients may set their own)."""

    id_token_lifetime: int = 3600
    """ID token lifetime, in seconds."""

    refresh_token_lifetime: int = 30 * 24 * 3600
    """Absolute lifetime of a refresh token family, in seconds."""

    login_transaction_lifetime: int = 1800
    """How long a started sign-in may take before it must start over, in seconds."""

    password_min_length: int = 12
    """Minimum length of a new password (8 to 64)."""

    password_max_length: int = 128
    """Longer passwords are refused before hashing."""

    argon2_time_cost: int = 2
    """argon2id iterations (OWASP: m=19 MiB, t=2, p=1)."""

    argon2_memory_cost: int = 19 * 1024
    """argon2id memory in KiB."""

    argon2_parallelism: int = 1
    """argon2id lanes."""

    rate_limit_login: str = "20 per minute"
    """Rate limit per client address on the password and identifier forms."""

    rate_limit_token: str = "300 per minute"
    """Rate limit per client address on the token endpoint."""

    rate_limit_api: str = "600 per minute"
    """Rate limit per API client on the management API and per organization on SCIM."""

    rate_limit_hrd_lookup: str = "30 per minute"
    """Rate limit per client address on the public home realm discovery lookup
    (``POST /hrd/lookup``)."""

    hrd_debug_token: str = ""
    """Support token that opens the home realm discovery debug page (``/hrd/explain``) on
    every tenant host; empty (the default) leaves the page off. Use a long random value;
    ``foyer hrd explain`` needs none."""

    default_locale: str = "en"
    """Locale used when nothing else chooses one."""

    reset_token_lifetime: int = 30 * 60
    """How long a password reset link works, in seconds (at most an hour is advised)."""

    verify_token_lifetime: int = 24 * 3600
    """How long an email verification link works, in seconds."""

    signup_code_lifetime: int = 10 * 60
    """How long the code that confirms a sign-up works, in seconds (at most 10 minutes)."""

    invitation_lifetime: int = 7 * 24 * 3600
    """How long an organization invitation works, in seconds (at most 30 days)."""

    unblock_token_lifetime: int = 24 * 3600
    """How long the link that lifts a block of sign-ins (emailed when an account had too
    many failed sign-ins from one address) works, in seconds."""

    reset_emails_per_hour: int = 5
    """At most this many reset (or verification) emails per account and hour; more requests
    get the same answer and send nothing."""

    rate_limit_account_email: str = "10 per hour"
    """Rate limit per client address on pages that send emails (reset, sign-up, resend)."""

    rate_limit_mfa: str = "10 per hour"
    """Attempts at a one-time code (authenticator or recovery code) per user."""

    log_level: str = "INFO"
    """Lowest level of log lines written to standard error (``DEBUG``, ``INFO``,
    ``WARNING``, ``ERROR``)."""

    log_format: str = "json"
    """``json``: one JSON object a line (requests, events, messages), for log collectors.
    ``text``: human-readable lines (what ``foyer demo`` uses)."""

    metrics_token: str = ""
    """When set, ``/metrics`` answers on every host to requests carrying
    ``Authorization: Bearer <token>`` (use a long random value). Empty: it answers 404."""

    metrics_address: str = ""
    """``host:port`` of a separate listener that serves ``/metrics`` to Prometheus (e.g.
    ``10.0.0.5:9102``, an internal address), started by ``foyer run``. Needs no token."""

    @classmethod
    def load(cls, overrides: t.Mapping[str, t.Any] | None = None) -> Settings:
        """Build settings from the file named by FOYER_CONFIG, then env, then ``overrides``."""
        values: dict[str, t.Any] = {}
        config_file = os.environ.get("FOYER_CONFIG")
        if config_file:
            with open(config_file, "rb") as fh:
                values.update(tomllib.load(fh))
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, field in fields.items():
            raw = os.environ.get(f"FOYER_{name.upper()}")
            if raw is not None:
                try:
                    values[name] = _coerce(raw, field.type)
                except ValueError:
                    kind = {"int": "a whole number", "float": "a number"}.get(str(field.type))
                    raise SettingsError(
                        f"FOYER_{name.upper()} is {raw!r}, which is not {kind or field.type}"
                    ) from None
        for key, value in (overrides or {}).items():
            if key.lower() in fields:
                values[key.lower()] = value
        unknown = set(values) - set(fields)
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = cls(**values)
        settings._fill_secrets()
        return settings

    @property
    def instance(self) -> Path:
        return Path(self.instance_path).resolve()

    def _fill_secrets(self) -> None:
        self.instance.mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.instance / 'foyer.db'}"
        if not self.secret_key:
            self.secret_key = _read_or_create(
                self.instance / "secret_key", lambda: secrets.token_urlsafe(48)
            )
        if not self.encryption_keys:
            self.encryption_keys = _read_or_create(
                self.instance / "encryption_key", lambda: Fernet.generate_key().decode()
            )
        check_secrets(self.secret_key, self.encryption_keys)
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"FOYER_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(f"FOYER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if not 8 <= self.password_min_length <= 64:
            raise SettingsError("password_min_length must be between 8 and 64")
        if not 2 <= self.sqlite_cache_mib <= 4096:
            raise SettingsError("FOYER_SQLITE_CACHE_MIB must be between 2 and 4096")
        if not 60 <= self.signup_code_lifetime <= 600:
            raise SettingsError("signup_code_lifetime must be between 60 and 600 seconds")


class SettingsError(ValueError):
    """A setting that Foyer refuses to start with; the message names the variable."""


LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_BITS = 80


def estimated_bits(value: str) -> float:
    """Entropy of ``value`` estimated from its characters' frequencies, in bits, counting
    only once each stretch that repeats an earlier one.

    A rough stand-in, not a proof: it flags short, repetitive or one-alphabet keys (``x``,
    ``changeme-changeme...``, ``aaaa...``) while every generated key passes with room.
    """
    if not value:
        return 0.0
    counts = collections.Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    grams = [value[i : i + 4] for i in range(max(len(value) - 3, 1))]
    fresh = len(set(grams)) / len(grams)  # repeated 4-character stretches add nothing
    return per_char * len(value) * fresh


def check_secrets(secret_key: str, encryption_keys: str) -> None:
    """Refuse a weak secret key and encryption keys that do not parse, at start.

    :raises SettingsError: naming the variable and how to make a good value.
    """
    make = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
    if len(secret_key) < SECRET_KEY_MIN_LENGTH:
        raise SettingsError(
            f"FOYER_SECRET_KEY is {len(secret_key)} characters long; it needs at least "
            f"{SECRET_KEY_MIN_LENGTH} random ones (make one with {make})"
        )
    if estimated_bits(secret_key) < SECRET_KEY_MIN_BITS:
        raise SettingsError(
            "FOYER_SECRET_KEY is too predictable (repeated or too few different characters); "
            f"use a random value (make one with {make})"
        )
    keys = [k.strip() for k in encryption_keys.split(",") if k.strip()]
    if not keys:
        raise SettingsError("FOYER_ENCRYPTION_KEYS holds no key")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise SettingsError(
                f"FOYER_ENCRYPTION_KEYS: key {number} of {len(keys)} is not a Fernet key "
                "(32 bytes in url-safe base64; make one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`)'
            ) from None


def _coerce(raw: str, annotation: t.Any) -> t.Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw


def _read_or_create(path: Path, make: t.Callable[[], str]) -> str:
    """Read a generated secret, creating it (mode 0600) on first start."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def settings_reference() -> str:
    """A Markdown table of every setting, built from the field docstrings above.

    ``docs/operating.md`` embeds it; a test keeps the two equal.
    """
    tree = ast.parse(inspect.getsource(Settings))
    body = t.cast(ast.ClassDef, tree.body[0]).body
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
        ):
            docs[node.target.id] = " ".join(str(following.value.value).split())
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in dataclasses.fields(Settings):
        default = "" if f.default == "" else f"`{f.default}`"
        rows.append(f"| `FOYER_{f.name.upper()}` | {default} | {docs.get(f.name, '')} |")
    return "\n".join(rows) + "\n"
