"""Connections: where a tenant's identities come from (database, oidc, saml, legacy...)."""
