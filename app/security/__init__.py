"""Password hashing, secrets at rest, attack protection, rate limits and headers."""
