"""Branding: theme registry, template loader chain, assets and per-organization looks."""
