"""Applications (OpenID Connect clients) registered with a tenant."""
