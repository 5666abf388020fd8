"""RFC 8785 JSON Canonicalization Scheme (JCS).

Signed documents (receipts, checkpoints) are signed over their canonical
bytes so the PWA, written in TypeScript, reproduces exactly the same bytes
from the same value: keys sorted by UTF-16 code units, no whitespace, strings
with minimal escaping, numbers as ECMAScript's Number::toString prints them.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Mapping, Sequence

from crypto.errors import CryptoError

_MAX_SAFE = 2**53  # beyond this, JavaScript cannot hold the integer exactly

_SHORT_ESCAPES = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}


def _string(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if code in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[code])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            # A lone surrogate has no UTF-8 form; I-JSON (RFC 7493) forbids it.
            raise CryptoError("invalid_argument", "lone surrogate in string")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: float) -> str:
    """ECMAScript Number::toString (ECMA-262 §6.1.6.1.20) for a finite double."""
    if not math.isfinite(value):
        raise CryptoError("invalid_argument", "NaN and Infinity are not JSON")
    if value == 0:
        return "0"  # also -0
    sign = "-" if value < 0 else ""
    # repr gives the shortest digit string that round-trips, which is what ES requires.
    _, digit_tuple, raw_exponent = Decimal(repr(abs(value))).as_tuple()
    if not isinstance(raw_exponent, int):  # 'n', 'N' or 'F': NaN and Infinity, refused above
        raise CryptoError("invalid_argument", "NaN and Infinity are not JSON")
    exponent = raw_exponent
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len("".join(map(str, digit_tuple))) - len(digits)
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def _utf16_key(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly like the sequence of UTF-16 code units.
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise CryptoError("invalid_argument", "lone surrogate in key") from exc


def _serialize(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE:
            raise CryptoError("invalid_argument", "integer outside the IEEE 754 exact range")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise CryptoError("invalid_argument", "object keys must be strings")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _serialize(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _serialize(item, out)
        out.append("]")
    else:
        raise CryptoError("invalid_argument", f"{type(value).__name__} is not a JSON value")


def canonical_json(value: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None)."""
    out: list[str] = []
    _serialize(value, out)
    return "".join(out).encode("utf-8")
