"""``foyer doctor``: the deployment guide's recommendations checked against a live
deployment (its settings, its database, the machine it runs on)."""
