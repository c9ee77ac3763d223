"""How request arguments are read: a body must be the JSON it is declared as, and a query argument the
endpoint does not know is an error.

webargs, under flask-smorest, reads a body sent with another content type (a form, text/plain) as if
none had been sent, and drops unknown query arguments: a withdrawal sent as a form went through
without its reason, and `?stauts=failed` listed every instance. Here both are answered instead: 415
for the body, 422 naming the argument, as the request schemas (StrictSchema) intend.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import Request, abort
from webargs.flaskparser import FlaskParser, is_json_request


class StrictParser(FlaskParser):
    # None: the schema decides, and every query schema is a StrictSchema (unknown = RAISE).
    DEFAULT_UNKNOWN_BY_LOCATION = FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION | {"query": None, "querystring": None}

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req) and req.get_data(cache=True):
            abort(415)
        return super()._raw_load_json(req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, reading arguments with the StrictParser."""

    ARGUMENTS_PARSER = StrictParser()
