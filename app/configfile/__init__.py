"""Config as code: one YAML file describes a tenant (``foyer apply`` / ``foyer export``).

The file is read with its line numbers kept (:mod:`.source`), checked against a declarative
schema (:mod:`.schema`, :mod:`.spec`) and against the database (:mod:`.checks`), compared
with the stored state (:mod:`.snapshot`, :mod:`.plan`) and applied in one transaction
(:mod:`.apply`). ``docs/config.md`` documents the format.
"""
