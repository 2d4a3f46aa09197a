"""Query strings the app can always read.

Werkzeug decodes the query string as strict UTF-8, so one raw byte above 0x7F that is not
UTF-8 (HTTP clients may send such bytes unencoded) made ``request.args`` raise, and every
page with it: a 500. The request class percent-encodes such bytes first, which changes
nothing for valid UTF-8 (``%C3%A9`` decodes to the same ``é``) and leaves invalid bytes
percent-encoded in the value, as Werkzeug does for an encoded invalid byte.
"""

from __future__ import annotations

import re
import typing as t

from flask import Flask
from flask import Request

NON_ASCII = re.compile(rb"[\x80-\xff]")


def percent_encode_non_ascii(query: bytes) -> bytes:
    return NON_ASCII.sub(lambda byte: b"%%%02X" % byte.group()[0], query)


class FoyerRequest(Request):
    """Flask's request whose ``query_string`` is ASCII."""

    def __init__(self, environ: t.Any, populate_request: bool = True, shallow: bool = False):
        super().__init__(environ, populate_request, shallow)
        if not self.query_string.isascii():
            self.query_string = percent_encode_non_ascii(self.query_string)


def init_query_strings(app: Flask) -> None:
    app.request_class = FoyerRequest
