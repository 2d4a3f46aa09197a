"""Stable event type codes and the record passed to ``track_event`` sinks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

EVENT_TYPES: dict[str, str] = {
    "login_succeeded": "A user signed in",
    "login_failed": "A sign-in attempt failed (wrong identifier or password)",
    "login_denied": "A login rule refused a sign-in",
    "login_cancelled": "A user went back to the application from a refused sign-in",
    "login_blocked": "A blocked user tried to sign in",
    "login_pair_blocked": "An account had too many failed sign-ins in a row from one address: "
    "sign-ins to it from there are blocked (data.until) and the user was emailed a link",
    "login_delayed": "An account had many failed sign-ins from any address: its next attempt "
    "must wait (data.seconds)",
    "login_unblocked": "The blocks and delays of an account's sign-ins were lifted (data.via: "
    "link, password_reset or admin)",
    "password_check_refused": "A page that asks for the password again (change password, "
    "two-step settings, sessions, a verification link, an invitation) refused to check it: "
    "the account must wait or the address is throttled (data.reason)",
    "ip_throttled": "An address made too many failed sign-ins or sign-ups (data.kind) in a "
    "day: it is refused until the day ends (data.until)",
    "logout": "A user signed out",
    "password_rehashed": "A password hash was upgraded to the current parameters",
    "token_issued": "Tokens were issued at the token endpoint",
    "token_exchange_failed": "A token request failed",
    "code_reused": "An authorization code was presented twice; its tokens were revoked",
    "refresh_token_reused": "A rotated refresh token was presented; its family was revoked",
    "token_revoked": "A token was revoked (RFC 7009)",
    "client_auth_failed": "A client failed to authenticate",
    "authorize_rejected": "An authorization request was refused",
    "keys_rotated": "Signing keys were rotated",
    "config_applied": "A configuration file was applied",
    "user_created": "A user was created",
    "user_migrated": "A user of a legacy store was moved into Foyer at their first sign-in",
    "user_blocked": "A user was blocked (or unblocked: data.blocked is false)",
    "user_deleted": "A user was deleted",
    "user_anonymized": "A user's personal data was removed; their id and event log stay",
    "user_updated": "A user's profile or metadata was changed through the management API "
    "or SCIM (data.fields)",
    "organization_created": "An organization was created through the management API",
    "organization_updated": "An organization was changed through the management API",
    "organization_deleted": "An organization was deleted through the management API",
    "client_created": "An application was registered through the management API",
    "client_secret_rotated": "An application's secret was replaced",
    "scim_token_created": "A SCIM token was made for an organization",
    "scim_token_revoked": "A SCIM token of an organization was revoked",
    "rate_limited": "A client address hit a rate limit",
    "counter_storage_failed": "Redis could not be reached: rate limits and attack-protection "
    "counters moved to the database for a while, with stricter limits",
    "plugin_failed": "A plugin raised in a hook",
    "claim_rejected": "A plugin tried to set a protected claim",
    "error_shown": "An error page was shown",
    "login_redirected": "A sign-in was sent to an upstream identity provider (data.hrd says why)",
    "upstream_failed": "A sign-in at an upstream identity provider could not be finished "
    "(data.code: access_denied, upstream_unavailable, upstream_misconfigured, "
    "invalid_response or email_in_use; data.detail says what failed)",
    "upstream_email_conflict": "An upstream identity provider gave a user the address of "
    "another user of the connection; the user kept their own address",
    "identity_linked": "An upstream identity was linked to an existing account after the "
    "user proved the account was theirs",
    "identity_link_failed": "A proof of an existing account, asked before linking an "
    "upstream identity to it, was wrong",
    "hrd_explained": "Support staff asked why a sign-in would be routed where it goes",
    "password_reset_requested": "A password reset link was emailed to a user",
    "password_reset_limited": "A reset or verification email was not sent: the account's "
    "hourly limit was reached",
    "password_reset_completed": "A user chose a new password with a reset link; their "
    "sessions and refresh tokens ended",
    "password_changed": "A signed-in user changed their password",
    "password_change_failed": "A password change gave a wrong current password",
    "password_breach_detected": "A user signed in with a right password that the policy now "
    "refuses (common, easy to guess, or refused by a check_password rule): they must choose "
    "a new one before the sign-in goes on",
    "link_rejected": "An emailed link (reset, verification, invitation) was unknown, expired "
    "or already used",
    "email_verification_sent": "An email verification link was emailed to a user",
    "email_verified": "A user confirmed their email address",
    "email_verification_failed": "An email verification link was used with a wrong password",
    "email_failed": "An email could not be delivered after retries",
    "signup_existing_email": "Someone signed up with the address of an existing account "
    "(its owner was told)",
    "signup_code_sent": "A code confirming a sign-up was emailed (no account exists yet)",
    "signup_code_failed": "A sign-up code was wrong (data.ended: no try is left)",
    "invitation_created": "Someone was invited into an organization",
    "invitation_accepted": "An invitation was accepted",
    "invitation_revoked": "An invitation was revoked",
    "invitation_failed": "An invitation acceptance gave a wrong password",
    "mfa_enrolled": "A user set up two-step verification",
    "mfa_disabled": "A user turned two-step verification off",
    "mfa_failed": "A two-step verification code was wrong or over the attempt limit",
    "recovery_code_used": "A user signed in with a recovery code",
    "recovery_codes_renewed": "A user replaced their recovery codes",
    "consent_granted": "A user allowed a third-party application",
    "consent_denied": "A user refused a third-party application",
    "backchannel_logout_failed": "A back-channel logout token could not be delivered to an "
    "application (refused, or still failing after the last retry)",
}
"""Every type code with its meaning. Codes never change once released."""


@dataclasses.dataclass(frozen=True)
class EventRecord:
    """What sinks receive: a copy of the stored event, detached from the database."""

    id: str
    type: str
    created_at: dt.datetime
    tenant_id: str | None
    user_id: str | None = None
    client_id: str | None = None
    organization_id: str | None = None
    connection_id: str | None = None
    ip: str | None = None
    data: dict[str, t.Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, t.Any]:
        d = dataclasses.asdict(self)
        d["created_at"] = self.created_at.isoformat()
        return d
