"""The hosted login: pages, the login transaction, SSO sessions and home realm discovery."""
