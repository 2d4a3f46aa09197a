"""Attack protection of password sign-ins: brute force, password spraying, suspicious
addresses. Every figure is a tenant setting (``attack_protection``, :class:`Figures`).

- **Brute force**, per account and client address: after ``max_failed_logins`` failures in
  a row the pair is blocked for ``block_seconds``. The right password then gets the answer
  a wrong one gets (same page, status, and a password hash spent all the same). The user
  gets an email with a single-use link that lifts the block.
- **Password spraying**, per account across every address: from ``delay_after`` failures,
  each attempt must wait ``first_delay_seconds`` after the last failure, doubling up to
  ``max_delay_seconds``; the count ends ``delay_reset_seconds`` after the last failure.
  A delay never locks the owner out for good: the unblock link and a password reset clear
  it, as a successful sign-in does, and a browser the owner signed in with (or unblocked,
  or reset the password with) is never delayed: it carries a signed device cookie.
- **Suspicious addresses**: an address may make ``ip_failed_logins_per_day`` failed
  sign-ins, and ``ip_signups_per_day`` sign-ups, in a day; past that it is refused, and
  gets one more each day's share (864 s for 100 a day), as Auth0 refills its bucket.
  Addresses in ``allow_list`` (CIDR ranges) never are.

Accounts are counted by the identifier typed (normalized), known or not, so no answer
tells whether an account exists. Counts live in the shared counters
(:mod:`app.security.counters`), the same for every worker and host. Transitions are events:
``login_pair_blocked``, ``login_delayed``, ``ip_throttled``, ``login_unblocked``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ipaddress
import time
import typing as t

from flask import current_app
from flask import request
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import TooManyRequests

from app.accounts.background import later
from app.accounts.credentials import password_is_current
from app.accounts.emails import send_unblock_link
from app.accounts.services import normalize_email
from app.events.record import record_event
from app.security.counters import Count
from app.security.counters import Counters
from app.security.counters import counters

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from app.accounts.models import User
    from app.tenancy.models import Tenant

DAY = 24 * 3600
MAX_DOUBLINGS = 30
GENERATION_SECONDS = 365 * DAY
"""How long an account's block generation is kept: longer than any block (at most 30 days)."""


def now() -> float:
    """Seconds since the epoch: the clock every figure here is measured with."""
    return time.time()


@dataclasses.dataclass(frozen=True)
class Figures:
    """The tenant's figures (``Tenant.settings["attack_protection"]``); 0 turns one off."""

    max_failed_logins: int = 10
    block_seconds: int = 30 * DAY
    notify_user: bool = True
    delay_after: int = 30
    first_delay_seconds: int = 60
    max_delay_seconds: int = 15 * 60
    delay_reset_seconds: int = 12 * 3600
    ip_failed_logins_per_day: int = 100
    ip_signups_per_day: int = 50
    allow_list: tuple[str, ...] = ()
    organization_guesses_per_hour: int = 20
    """Unknown organization names one address may try in an hour (:mod:`app.orgs.privacy`)."""

    @classmethod
    def of(cls, tenant: Tenant) -> Figures:
        values = dict((tenant.settings or {}).get("attack_protection") or {})
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        if "allow_list" in values:
            values["allow_list"] = tuple(values["allow_list"] or ())
        return cls(**values)

    def delay(self, failures: int) -> float:
        """Seconds an attempt must wait after the last of ``failures`` failures."""
        if not self.delay_after or failures < self.delay_after:
            return 0.0
        doublings = min(failures - self.delay_after, MAX_DOUBLINGS)
        return float(min(self.first_delay_seconds * 2**doublings, self.max_delay_seconds))

    def allows(self, ip: str) -> bool:
        """``ip`` is in the allow list (never throttled)."""
        return _in_ranges(ip, self.allow_list)


@functools.lru_cache(maxsize=256)
def _networks(ranges: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(r, strict=False) for r in ranges)


def _in_ranges(ip: str, ranges: tuple[str, ...]) -> bool:
    if not ranges:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(ranges))


def address_key(ip: str) -> str:
    """The address as counted: an IPv6 address by its /64 (one host holds a whole /64)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def account_key(tenant_id: str, identifier: str) -> str:
    """An account as counted: a digest of the normalized identifier (no address in keys)."""
    normalized = normalize_email(identifier)
    return hashlib.sha256(f"{tenant_id}\0{normalized}".encode()).hexdigest()[:32]


# --- One password check --------------------------------------------------------------------


@dataclasses.dataclass
class Attempt:
    """One password attempt: what protection decided before the check, counted already.

    Attempts are counted before the check (one atomic add each), so attempts running at
    once on several workers each get their own number: no more checks get through than
    the figures allow.
    """

    tenant: Tenant
    identifier: str
    ip: str
    figures: Figures
    account: str
    generation: int
    number: int = 0
    """This attempt's number in the account's run of failures (0: not counted)."""
    pair_number: int = 0
    """This attempt's number in the pair's run of failures (0: not counted)."""
    blocked: bool = False
    """The pair is blocked: check the password (timing) but answer as to a wrong one."""
    delayed_for: float = 0.0
    """Seconds the account must still wait (refuse now)."""
    throttled_for: float = 0.0
    """Seconds the address must still wait (refuse now)."""

    @property
    def pair_key(self) -> str:
        return f"bf:{self.account}:{self.generation}:{address_key(self.ip)}"

    @property
    def spray_key(self) -> str:
        return _spray_key(self.account)

    @property
    def gate_key(self) -> str:
        return _gate_key(self.account)

    @property
    def address_key(self) -> str:
        return f"ipf:{self.tenant.id}:{address_key(self.ip)}"

    @property
    def refused_for(self) -> float:
        return max(self.delayed_for, self.throttled_for)


def _generation_key(account: str) -> str:
    """Bumped to lift every block of the account at once (a reset, the link, an admin)."""
    return f"gen:{account}"


def _spray_key(account: str) -> str:
    """The account's run of failures, from every address."""
    return f"spray:{account}"


def _gate_key(account: str) -> str:
    """The account's delay (:func:`_pass_the_gate`)."""
    return f"gate:{account}"


def before_password_check(tenant: Tenant, identifier: str, ip: str) -> Attempt:
    """May this address try a password for ``identifier`` now? Counts the attempt unless
    it is refused (:attr:`Attempt.refused_for`)."""
    figures = Figures.of(tenant)
    store, moment = counters(), now()
    account = account_key(tenant.id, identifier)
    attempt = Attempt(
        tenant=tenant,
        identifier=identifier,
        ip=ip,
        figures=figures,
        account=account,
        generation=store.peek(_generation_key(account), moment).value,
    )
    if figures.ip_failed_logins_per_day and not figures.allows(ip):
        bucket = store.peek(attempt.address_key, moment)
        attempt.throttled_for = _bucket_wait(bucket, figures.ip_failed_logins_per_day, moment)
        if attempt.throttled_for:
            return attempt
    if figures.delay_after and not known_device(account):
        _pass_the_gate(attempt, store, moment)
        if attempt.delayed_for:
            return attempt
    if figures.max_failed_logins:
        pair = store.add(attempt.pair_key, figures.block_seconds, moment, extend=True)
        attempt.pair_number = pair.value
        attempt.blocked = pair.value > figures.max_failed_logins
    return attempt


def _pass_the_gate(attempt: Attempt, store: Counters, moment: float) -> None:
    """The account's delay: past ``delay_after`` failures, one attempt per delay.

    The gate is a counter whose window is the delay: the first attempt of a new window
    goes through, the others wait for its end. The last free attempt, and each failure
    past it, close the gate for the next delay.
    """
    figures = attempt.figures
    run = store.add(attempt.spray_key, figures.delay_reset_seconds, moment, extend=True)
    attempt.number = run.value
    if run.value < figures.delay_after:
        return
    if run.value == figures.delay_after:  # the last free attempt: nobody passes meanwhile
        gate = store.add(attempt.gate_key, figures.delay(run.value), moment, extend=True)
    else:
        gate = store.add(attempt.gate_key, figures.delay(run.value - 1), moment)
    # Someone passed in this window: wait for its end. The last free attempt checks too:
    # one past the limit, arriving at the same moment on another worker, may have reached
    # the gate first, and only one of the two may pass.
    if gate.value > 1:
        store.add(attempt.spray_key, figures.delay_reset_seconds, moment, -1, extend=True)
        attempt.number = 0
        attempt.delayed_for = _seconds(gate.expires_at - moment)


def _seconds(value: float) -> float:
    """A wait in seconds, without the float noise of stored times."""
    return max(0.0, round(value, 3))


def failed(attempt: Attempt, user: User | None) -> None:
    """A checked attempt failed (``user``: the account, when it exists)."""
    figures, store, moment = attempt.figures, counters(), now()
    tenant, user_id = attempt.tenant, user.id if user is not None else None
    per_day = figures.ip_failed_logins_per_day
    if per_day and not figures.allows(attempt.ip):
        bucket = store.charge(attempt.address_key, DAY / per_day, moment)
        if _just_filled(bucket, per_day, moment):
            record_event("ip_throttled", tenant=tenant, data={"kind": "login"})
    if attempt.blocked:
        return  # the answer told nothing: the run goes on as it was
    if attempt.pair_number == figures.max_failed_logins > 0:
        record_event(
            "login_pair_blocked",
            tenant=tenant,
            user_id=user_id,
            data={"identifier": attempt.identifier, "seconds": figures.block_seconds},
        )
        if user is not None and user.email and figures.notify_user:
            _email_unblock_link(user, attempt.ip)
    if attempt.number >= figures.delay_after > 0:
        seconds = figures.delay(attempt.number)
        store.add(attempt.gate_key, seconds, moment, extend=True)
        record_event(
            "login_delayed",
            tenant=tenant,
            user_id=user_id,
            data={"identifier": attempt.identifier, "failures": attempt.number, "seconds": seconds},
        )


def succeeded(attempt: Attempt) -> None:
    """A right password, not blocked: the run of failures starts again from zero."""
    counters().clear(attempt.pair_key, attempt.spray_key, attempt.gate_key)


def current_password_matches(tenant: Tenant, user: User, password: str) -> bool:
    """Check ``user``'s password where a page asks for it again (change password, two-step
    settings, the sessions page, an email verification link, an invitation for an existing
    account) under the sign-in's protection: the same counters, so these pages add no
    guesses to what the figures allow per account and address, and across addresses.

    A blocked pair spends the hash and answers False whatever the password; a blocked
    user is refused alike.

    :raises werkzeug.exceptions.TooManyRequests: the address is throttled or the account
        must wait (``retry_after`` says how long); nothing was checked.
    """
    identifier = user.email or user.username or user.id
    attempt = before_password_check(tenant, identifier, request.remote_addr or "")
    if attempt.refused_for:
        reason = "address_throttled" if attempt.throttled_for else "account_delayed"
        record_event(
            "password_check_refused", tenant=tenant, user_id=user.id, data={"reason": reason}
        )
        raise TooManyRequests(retry_after=max(1, int(attempt.refused_for + 0.999)))
    matches = password_is_current(user, password)
    if matches and not attempt.blocked and not user.blocked:
        succeeded(attempt)
        return True
    failed(attempt, user)
    return False


def count_signup(tenant: Tenant, ip: str) -> float:
    """Count a sign-up from ``ip``: seconds it must wait when over its figure (nothing is
    counted then), else 0."""
    figures = Figures.of(tenant)
    per_day = figures.ip_signups_per_day
    if not per_day or figures.allows(ip):
        return 0.0
    store, moment, key = counters(), now(), f"ips:{tenant.id}:{address_key(ip)}"
    wait = _bucket_wait(store.peek(key, moment), per_day, moment)
    if wait:
        return wait
    if _just_filled(store.charge(key, DAY / per_day, moment), per_day, moment):
        record_event("ip_throttled", tenant=tenant, data={"kind": "signup"})
    return 0.0


def _bucket_wait(bucket: Count, per_day: int, moment: float) -> float:
    """An address's bucket holds a day: each event fills ``DAY / per_day`` seconds of it,
    and it drains in real time. Seconds until one more event fits (0: it fits now)."""
    return _seconds(bucket.expires_at - moment - (DAY - DAY / per_day))


def _just_filled(bucket: Count, per_day: int, moment: float) -> bool:
    """The event just charged made the bucket full (the throttle starts)."""
    step = DAY / per_day
    left = bucket.expires_at - moment
    return left - step <= DAY - step < left


# --- Lifting blocks ------------------------------------------------------------------------


def identifiers_of(user: User) -> list[str]:
    return [value for value in (user.email, user.username) if value]


def unblock(user: User, via: str) -> None:
    """Lift every block and delay of ``user``'s sign-ins, from every address (``via``:
    ``link``, ``password_reset``, ``admin``)."""
    store, moment = counters(), now()
    for identifier in identifiers_of(user):
        account = account_key(user.tenant_id, identifier)
        store.add(_generation_key(account), GENERATION_SECONDS, moment, extend=True)
        store.clear(_spray_key(account), _gate_key(account))
    record_event("login_unblocked", tenant_id=user.tenant_id, user_id=user.id, data={"via": via})


# --- Devices the owner used -----------------------------------------------------------------

DEVICE_COOKIE = "foyer_device"
DEVICE_MAX_AGE = 90 * DAY
DEVICE_ACCOUNTS = 5
"""A device cookie names at most this many accounts (the last ones signed in)."""


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="foyer.device")


def _device_accounts() -> list[str]:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 1024:
        return []
    try:
        accounts = _device_serializer().loads(raw, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return []
    if not isinstance(accounts, list):
        return []
    return [a for a in accounts if isinstance(a, str)][:DEVICE_ACCOUNTS]


def known_device(account: str) -> bool:
    """This browser proved it is the owner's (a sign-in, the unblock link, a reset)."""
    return account in _device_accounts()


def remember_device(response: Response, user: User) -> Response:
    """Mark this browser as ``user``'s on ``response``: their delays never apply to it."""
    mine = [account_key(user.tenant_id, identifier) for identifier in identifiers_of(user)]
    accounts = list(dict.fromkeys([*mine, *_device_accounts()]))[:DEVICE_ACCOUNTS]
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps(accounts),
        max_age=DEVICE_MAX_AGE,
        path="/",
        secure=bool(current_app.extensions["foyer.settings"].secure_cookies),
        httponly=True,
        samesite="Lax",
    )
    return response


def _email_unblock_link(user: User, ip: str) -> None:
    """After the answer, in a worker (the answer must not wait for mail): the unblock link."""
    later(send_unblock_link, user.id, ip)
