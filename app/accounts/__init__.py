"""Accounts: users, their identities and metadata, and single-use tokens."""
