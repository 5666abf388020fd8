"""THE JSON reader of every request body: strict, bounded, never a server error. Pure: no I/O.

Python's ``json`` recurses once per nesting level (a 6 KB body of brackets exhausts the stack), takes
``NaN`` and ``Infinity``, keeps the last of duplicate keys (two readers of one document may then
disagree) and lets lone UTF-16 surrogates through (``"\\ud800"``), which fail later when the value is
written to the database or echoed. Each of these is refused here as ``malformed_json``, with a
``details.reason`` the client can act on; the size bound is the caller's (``endpoints/common.json_body``).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import ApiError

MAX_JSON_DEPTH = 32  # arrays and objects nested; our documents use under 8
MAX_NUMBER_CHARS = 64  # a number's text; ours are sizes, counts and dates

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_OPEN = frozenset(b"[{")


class _Refused(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuse(reason: str) -> ApiError:
    return ApiError("malformed_json", details={"reason": reason})


def _too_deep(raw: bytes) -> bool:
    """Whether brackets outside strings nest deeper than allowed: checked before any parsing."""
    skeleton = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if len(skeleton) <= 2 * MAX_JSON_DEPTH:
        return False
    depth = 0
    for byte in skeleton:
        depth += 1 if byte in _OPEN else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _number(text: str, kind: type) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused("number_too_long")
    value = kind(text)
    if kind is float and not math.isfinite(value):
        raise _Refused("number_not_finite")
    return value


def _constant(name: str) -> Any:
    raise _Refused("number_not_finite")  # NaN, Infinity, -Infinity are not JSON


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("duplicate_key")
    return result


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def parse_json_body(raw: bytes) -> Any:
    """The document in ``raw`` (UTF-8 JSON), or ``ApiError("malformed_json")`` saying why not."""
    if _too_deep(raw):
        raise _refuse("too_deep")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("not_utf8") from None
    try:
        value = json.loads(text, parse_int=lambda t: _number(t, int), parse_float=lambda t: _number(t, float),
                           parse_constant=_constant, object_pairs_hook=_object)
    except _Refused as refused:
        raise _refuse(refused.reason) from None
    except (ValueError, RecursionError):
        raise _refuse("syntax") from None
    if _has_lone_surrogate(value):  # a pair decodes to one character; only a lone half is left
        raise _refuse("lone_surrogate")
    return value
