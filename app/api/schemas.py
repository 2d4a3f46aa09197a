"""The JSON shapes of the management API (marshmallow), from which the OpenAPI document is
generated: what a view accepts is what the document says, and what it answers too."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields
from marshmallow import validate

from app.connections.services import SECRET_NAME
from app.connections.services import STRATEGY_NAME

MAX_LIMIT = 100


class Strict(ma.Schema):
    """Unknown fields are refused (422), so a typo never silently does nothing."""

    class Meta:
        unknown = ma.RAISE


class ErrorSchema(ma.Schema):
    code = fields.String(required=True, metadata={"description": "Stable error code"})
    message = fields.String(required=True, metadata={"description": "For developers"})
    field = fields.String(metadata={"description": "The input at fault, when one is"})
    errors = fields.List(
        fields.Dict(keys=fields.String(), values=fields.String()),
        metadata={"description": "Every invalid input: [{field, message}]"},
    )


class PageQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(validate=validate.Length(max=512))


Metadata = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))


# --- users -----------------------------------------------------------------------------------


class UserSchema(ma.Schema):
    id = fields.String(required=True)
    email = fields.String(allow_none=True)
    email_verified = fields.Boolean(required=True)
    username = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    given_name = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    connection = fields.String(required=True)
    blocked = fields.Boolean(required=True)
    has_password = fields.Boolean(required=True)
    user_metadata = fields.Dict(keys=fields.String(), required=True)
    app_metadata = fields.Dict(keys=fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    last_login_at = fields.DateTime(allow_none=True)


class UserPage(ma.Schema):
    items = fields.List(fields.Nested(UserSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class DeleteQuery(Strict):
    mode = fields.String(
        load_default="delete",
        validate=validate.OneOf(["delete", "anonymize"]),
        metadata={"description": "`anonymize`: keep the user's id and events, remove the rest"},
    )


class UserSearch(PageQuery):
    email = fields.String(validate=validate.Length(max=320))
    name = fields.String(validate=validate.Length(max=255))
    organization = fields.String(validate=validate.Length(max=63))
    connection = fields.String(validate=validate.Length(max=63))
    blocked = fields.Boolean()
    created_after = fields.AwareDateTime(default_timezone=None)
    created_before = fields.AwareDateTime()
    last_login_after = fields.AwareDateTime()
    last_login_before = fields.AwareDateTime()


Name = fields.String(validate=validate.Length(max=255), allow_none=True)


class UserCreate(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    connection = fields.String(validate=validate.Length(max=63))
    organization = fields.String(validate=validate.Length(max=63))
    roles = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list)
    name = Name
    given_name = Name
    family_name = Name
    locale = fields.String(validate=validate.Length(max=16), allow_none=True)
    email_verified = fields.Boolean(load_default=False)
    user_metadata = fields.Dict(keys=fields.String(), load_default=dict)
    app_metadata = fields.Dict(keys=fields.String(), load_default=dict)
    password = fields.String(
        validate=validate.Length(min=1, max=1024),
        metadata={"description": "Only when the tenant allows passwords set through the API"},
    )
    send_invite = fields.Boolean(
        load_default=True,
        metadata={"description": "Email the user a link to choose a password"},
    )


class UserPatch(Strict):
    """A JSON merge patch (RFC 7396): absent fields are kept, ``null`` clears a field or
    removes a metadata key, objects merge key by key."""

    email = fields.Email(validate=validate.Length(max=320))
    email_verified = fields.Boolean()
    username = fields.String(validate=validate.Length(min=1, max=128), allow_none=True)
    name = Name
    given_name = Name
    family_name = Name
    locale = fields.String(validate=validate.Length(max=16), allow_none=True)
    blocked = fields.Boolean()
    user_metadata = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True
    )
    app_metadata = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True
    )


class SessionSchema(ma.Schema):
    id = fields.String(required=True)
    organization_id = fields.String(allow_none=True)
    amr = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    user_agent = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)


class SessionList(ma.Schema):
    items = fields.List(fields.Nested(SessionSchema), required=True)


class RefreshTokenSchema(ma.Schema):
    id = fields.String(required=True, metadata={"description": "The token family"})
    client_id = fields.String(required=True)
    scope = fields.String(required=True)
    organization_id = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


class RefreshTokenList(ma.Schema):
    items = fields.List(fields.Nested(RefreshTokenSchema), required=True)


class RevokedCounts(ma.Schema):
    sessions_ended = fields.Integer(required=True)
    grants_revoked = fields.Integer(required=True)


class IdentitySchema(ma.Schema):
    id = fields.String(required=True)
    connection = fields.String(required=True)
    subject = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class IdentityList(ma.Schema):
    items = fields.List(fields.Nested(IdentitySchema), required=True)


class MembershipSchema(ma.Schema):
    organization = fields.String(required=True)
    organization_id = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)


class MembershipList(ma.Schema):
    items = fields.List(fields.Nested(MembershipSchema), required=True)


class Accepted(ma.Schema):
    sent = fields.Boolean(required=True)


# --- organizations ---------------------------------------------------------------------------

Slug = fields.String(
    validate=[validate.Length(min=1, max=63), validate.Regexp(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")]
)


class OrganizationSchema(ma.Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    display_name = fields.String(required=True)
    theme = fields.String(allow_none=True)
    default_locale = fields.String(allow_none=True)
    require_two_step = fields.Boolean(required=True)
    branding = fields.Dict(keys=fields.String(), required=True)
    metadata = fields.Dict(keys=fields.String(), required=True)
    connections = fields.List(fields.String(), required=True)
    email_domains = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)


class OrganizationPage(ma.Schema):
    items = fields.List(fields.Nested(OrganizationSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


DisplayName = fields.String(validate=validate.Length(min=1, max=255))


class OrganizationCreate(Strict):
    name = Slug
    display_name = DisplayName
    connections = fields.List(fields.String(validate=validate.Length(max=63)), load_default=list)
    branding = fields.Dict(keys=fields.String(), load_default=dict)
    metadata = fields.Dict(keys=fields.String(), load_default=dict)
    default_locale = fields.String(validate=validate.Length(max=16), allow_none=True)

    @ma.validates_schema
    def _required(self, data: dict, **kwargs: object) -> None:
        for name in ("name", "display_name"):
            if name not in data:
                raise ma.ValidationError("Missing data for required field.", name)


class OrganizationPatch(Strict):
    display_name = DisplayName
    default_locale = fields.String(validate=validate.Length(max=16), allow_none=True)
    require_two_step = fields.Boolean()
    branding = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True
    )
    metadata = fields.Dict(
        keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True
    )


class MemberSchema(ma.Schema):
    user_id = fields.String(required=True)
    email = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    roles = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)


class MemberPage(ma.Schema):
    items = fields.List(fields.Nested(MemberSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


Role = fields.String(
    validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9_.:-]+$")]
)


class MemberRoles(Strict):
    roles = fields.List(Role, load_default=list)


class InvitationSchema(ma.Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    status = fields.String(required=True)
    invited_by = fields.String(allow_none=True)
    expires_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)


class InvitationList(ma.Schema):
    items = fields.List(fields.Nested(InvitationSchema), required=True)


class InvitationCreate(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    roles = fields.List(Role, load_default=list)
    locale = fields.String(validate=validate.Length(max=16), allow_none=True)
    ttl_days = fields.Integer(validate=validate.Range(min=1, max=30))
    send_email = fields.Boolean(load_default=True)


class CreatedInvitation(InvitationSchema):
    link = fields.String(required=True, metadata={"description": "The acceptance link, shown once"})
    delivered = fields.Boolean(required=True)


class ConnectionNames(Strict):
    connections = fields.List(fields.String(validate=validate.Length(max=63)), required=True)


class ConnectionNameList(ma.Schema):
    connections = fields.List(fields.String(), required=True)


class EmailDomain(Strict):
    domain = fields.String(required=True, validate=validate.Length(min=1, max=253))
    include_subdomains = fields.Boolean(load_default=False)
    connection = fields.String(allow_none=True, validate=validate.Length(max=63))


class EmailDomainOut(ma.Schema):
    domain = fields.String(required=True)
    include_subdomains = fields.Boolean(required=True)
    connection = fields.String(allow_none=True)


class EmailDomains(Strict):
    email_domains = fields.List(fields.Nested(EmailDomain), required=True)


class EmailDomainList(ma.Schema):
    email_domains = fields.List(fields.Nested(EmailDomainOut), required=True)


class Branding(ma.Schema):
    """Validated as in configuration files: colors, https URLs, emails, lengths."""

    class Meta:
        unknown = ma.INCLUDE


class BrandingOut(ma.Schema):
    branding = fields.Dict(keys=fields.String(), required=True)


class ScimTokenSchema(ma.Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True)


class ScimTokenList(ma.Schema):
    items = fields.List(fields.Nested(ScimTokenSchema), required=True)


class ScimTokenCreate(Strict):
    name = fields.String(load_default="", validate=validate.Length(max=128))


class CreatedScimToken(ScimTokenSchema):
    token = fields.String(required=True, metadata={"description": "Shown once"})
    base_url = fields.String(required=True, metadata={"description": "The SCIM base URL"})


# --- tenant-wide -----------------------------------------------------------------------------


class ConnectionSchema(ma.Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    display_name = fields.String(required=True)
    strategy = fields.String(required=True)
    signup_enabled = fields.Boolean(required=True)
    options = fields.Dict(keys=fields.String(), required=True)
    secrets = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The names of the stored secrets (never their values)"},
    )
    organizations = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)


SecretValues = fields.Dict(
    keys=fields.String(validate=validate.Regexp("^" + SECRET_NAME.pattern + "$")),
    values=fields.String(validate=validate.Length(max=8192)),
    metadata={"description": "Strategy secrets, stored encrypted, never shown again"},
)


class ConnectionCreate(Strict):
    name = Slug
    strategy = fields.String(
        load_default="database", validate=validate.Regexp("^" + STRATEGY_NAME.pattern + "$")
    )
    display_name = fields.String(validate=validate.Length(min=1, max=255), allow_none=True)
    signup = fields.Boolean(load_default=False)
    options = fields.Dict(keys=fields.String(), load_default=dict)
    secrets = SecretValues
    organization = fields.String(
        validate=validate.Length(min=1, max=103),
        metadata={"description": "Enable it for this organization only (a dedicated connection)"},
    )

    @ma.validates_schema
    def _required(self, data: dict, **kwargs: object) -> None:
        if "name" not in data:
            raise ma.ValidationError("Missing data for required field.", "name")


class ConnectionPatch(Strict):
    display_name = fields.String(validate=validate.Length(min=1, max=255), allow_none=True)
    signup = fields.Boolean()
    options = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True)
    secrets = fields.Dict(
        keys=fields.String(validate=validate.Regexp("^" + SECRET_NAME.pattern + "$")),
        values=fields.String(validate=validate.Length(max=8192), allow_none=True),
        allow_none=True,
        metadata={"description": "Merged key by key; null removes a secret"},
    )


class ConnectionList(ma.Schema):
    items = fields.List(fields.Nested(ConnectionSchema), required=True)


class ClientSchema(ma.Schema):
    client_id = fields.String(required=True)
    name = fields.String(required=True)
    token_endpoint_auth_method = fields.String(required=True)
    grant_types = fields.List(fields.String(), required=True)
    redirect_uris = fields.List(fields.String(), required=True)
    post_logout_redirect_uris = fields.List(fields.String(), required=True)
    scope = fields.String(required=True)
    audience = fields.String(allow_none=True)
    organization = fields.String(
        allow_none=True, metadata={"description": "The organization an API client is bound to"}
    )
    created_at = fields.DateTime(required=True)


class ClientList(ma.Schema):
    items = fields.List(fields.Nested(ClientSchema), required=True)


class ClientCreate(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    token_endpoint_auth_method = fields.String(
        load_default="client_secret_basic",
        validate=validate.OneOf(["client_secret_basic", "client_secret_post", "none"]),
    )
    grant_types = fields.List(
        fields.String(
            validate=validate.OneOf(["authorization_code", "refresh_token", "client_credentials"])
        ),
        load_default=lambda: ["authorization_code", "refresh_token"],
    )
    redirect_uris = fields.List(
        fields.String(validate=validate.Length(max=2048)), load_default=list
    )
    post_logout_redirect_uris = fields.List(
        fields.String(validate=validate.Length(max=2048)), load_default=list
    )
    scope = fields.String(
        load_default="openid profile email offline_access", validate=validate.Length(max=1024)
    )
    audience = fields.String(validate=validate.Length(max=512), allow_none=True)
    organization = fields.String(
        validate=validate.Length(max=63),
        metadata={"description": "Bind a management API client to this organization"},
    )


class ClientWithSecret(ClientSchema):
    client_secret = fields.String(
        allow_none=True, required=True, metadata={"description": "Shown once; never again"}
    )


class SigningKeySchema(ma.Schema):
    kid = fields.String(required=True)
    alg = fields.String(required=True)
    state = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    rotated_at = fields.DateTime(allow_none=True)


class SigningKeyList(ma.Schema):
    items = fields.List(fields.Nested(SigningKeySchema), required=True)


class RotateQuery(Strict):
    force = fields.Boolean(load_default=False)


class EventSchema(ma.Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    user_id = fields.String(allow_none=True)
    client_id = fields.String(allow_none=True)
    organization_id = fields.String(allow_none=True)
    connection_id = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    data = fields.Dict(keys=fields.String(), required=True)
    created_at = fields.DateTime(required=True)


class EventPage(ma.Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class EventQuery(PageQuery):
    type = fields.String(validate=validate.Length(max=32))
    user_id = fields.String(validate=validate.Length(max=40))
    organization = fields.String(validate=validate.Length(max=63))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()


# --- imports ---------------------------------------------------------------------------------

MAX_IMPORT_ROWS = 100_000


class ImportCreate(Strict):
    connection = fields.String(required=True, validate=validate.Length(min=1, max=63))
    users = fields.List(
        fields.Dict(keys=fields.String()),
        required=True,
        validate=validate.Length(min=1, max=MAX_IMPORT_ROWS),
        metadata={
            "description": "Rows as `foyer users import` reads them (or Auth0's export "
            "shape); password_hash in argon2id, bcrypt, Django PBKDF2 or scrypt"
        },
    )


class RowError(ma.Schema):
    row = fields.Integer(required=True)
    message = fields.String(required=True)


class ImportJobSchema(ma.Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    total = fields.Integer(required=True)
    processed = fields.Integer(required=True)
    imported = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    errors = fields.List(fields.Nested(RowError), required=True)
    error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)
