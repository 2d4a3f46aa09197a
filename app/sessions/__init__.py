"""SSO sessions: a signed-in browser, a server-side row referenced from the cookie."""
