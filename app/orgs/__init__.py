"""Organizations: the tenant owner's business customers, their domains and members."""
