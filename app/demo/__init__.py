"""``foyer demo``: a seeded demo tenant (``demo.yaml``) and a demo relying party (``rp.py``)."""
