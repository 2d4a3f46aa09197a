"""The sign-in: its transaction, its typed context per request, its ordered steps, and the
hosted login pages."""
