"""Tenancy: tenants, their domains, and resolving the tenant of a request from its host."""
