"""``foyer backup`` and ``foyer restore``: every durable row of one tenant or of all, in one
encrypted archive, and back into an empty database."""
