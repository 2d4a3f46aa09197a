"""The OpenID Connect provider: Authlib server and grants, keys, claims, discovery, logout."""
