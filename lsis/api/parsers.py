"""The API's JSON parser: DRF's, refusing with a 400 what no endpoint takes and the database could not hold.

Bodies are parsed by orjson (already the API's renderer), which refuses lone surrogates, NaN and
Infinity and stops at 1,024 levels instead of exhausting the interpreter's stack as the standard
library's parser does. On top of that, nesting deeper than ``MAX_DEPTH`` (no endpoint takes more than
three levels) and text holding a NUL character (PostgreSQL cannot store or compare it) are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 20
NUL_MESSAGE = "Text may not contain the NUL character (\\u0000)."


def _check(data: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and NUL in any key or string, walking without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ParseError(NUL_MESSAGE)
            continue
        if isinstance(value, Mapping):
            children = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep is not accepted.")
        stack.extend((child, depth + 1) for child in children)


class JSONParser(parsers.JSONParser):
    """JSON bodies, parsed by orjson and checked for depth and NUL characters."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        """The body as Python data, or a ParseError (400) saying what is wrong with it."""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = orjson.loads(stream.read().decode(encoding))
        except ValueError as error:  # orjson's JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {error}") from None
        _check(data)
        return data
