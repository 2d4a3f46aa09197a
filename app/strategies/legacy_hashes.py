"""Legacy hash formats, for plugins that name them here: they live in
:mod:`app.security.hash_formats`, where imports and every strategy read them."""

from __future__ import annotations

from app.security.hash_formats import PREFIX as PREFIX
from app.security.hash_formats import SCHEMES as SCHEMES
from app.security.hash_formats import import_hash as import_hash
from app.security.hash_formats import is_legacy_hash as is_legacy_hash
from app.security.hash_formats import pbkdf2_sha256 as pbkdf2_sha256
from app.security.hash_formats import recognize as recognize
from app.security.hash_formats import scrypt_hash as scrypt_hash
from app.security.hash_formats import verify_hash as verify_hash
from app.security.hash_formats import verify_legacy_hash as verify_legacy_hash
