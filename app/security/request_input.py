"""Request input the app can always read and store.

- Werkzeug decodes the query string as strict UTF-8, so one raw byte above 0x7F that is
  not UTF-8 (HTTP clients may send such bytes unencoded) made ``request.args`` raise, and
  every page with it: a 500. Such bytes are percent-encoded first, which changes nothing
  for valid UTF-8 (``%C3%A9`` decodes to the same ``é``) and leaves invalid bytes
  percent-encoded in the value, as Werkzeug does for an encoded invalid byte.
- PostgreSQL text cannot hold NUL, so a ``%00`` in any parameter made the first query with
  it fail. Query and form parameters (names and values) have NUL replaced by SUB (U+001A),
  ASCII's character for a substituted invalid one: still a control character, so a field
  that refuses control characters still refuses it, but one every database stores.
"""

from __future__ import annotations

import re
import typing as t

from flask import Flask
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.datastructures import MultiDict

NON_ASCII = re.compile(rb"[\x80-\xff]")
NUL = "\x00"
SUBSTITUTE = "\x1a"


def percent_encode_non_ascii(query: bytes) -> bytes:
    return NON_ASCII.sub(lambda byte: b"%%%02X" % byte.group()[0], query)


def without_nul(value: t.Any) -> t.Any:
    """A string with NUL replaced by SUB; anything else (an uploaded file) as it is."""
    return value.replace(NUL, SUBSTITUTE) if isinstance(value, str) else value


class Parameters(ImmutableMultiDict):  # type: ignore[type-arg]
    """Werkzeug's parameter dict (``request.args``, ``request.form``) without NUL."""

    def __init__(self, mapping: t.Any = None) -> None:
        if mapping is None:
            super().__init__()
            return
        if isinstance(mapping, MultiDict):
            pairs: t.Iterable[tuple[t.Any, t.Any]] = mapping.items(multi=True)
        elif isinstance(mapping, t.Mapping):
            pairs = (
                (key, item)
                for key, value in mapping.items()
                for item in (value if isinstance(value, (list, tuple, set)) else [value])
            )
        else:
            pairs = mapping
        super().__init__([(without_nul(key), without_nul(value)) for key, value in pairs])


class FoyerRequest(Request):
    """Flask's request with an ASCII ``query_string`` and NUL-free parameters."""

    parameter_storage_class = Parameters

    def __init__(self, environ: t.Any, populate_request: bool = True, shallow: bool = False):
        super().__init__(environ, populate_request, shallow)
        if not self.query_string.isascii():
            self.query_string = percent_encode_non_ascii(self.query_string)


def init_request_input(app: Flask) -> None:
    app.request_class = FoyerRequest
